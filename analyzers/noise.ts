// Run-to-run noise in page counts: what budgets tolerate, compare does not call a difference, and the
// text reports fold children over.

/** Growth within this many pages is run-to-run noise (a GC page here or there), whatever the tolerance. */
export const NOISE_PAGES = 8;

/** Two counts of pages differ by no more than run-to-run noise: NOISE_PAGES or 5% of the larger,
 *  whichever is more. */
export function withinNoise(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(NOISE_PAGES, 0.05 * Math.max(a, b));
}
