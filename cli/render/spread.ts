// Children that differ by less than noise are shown once: the text reports group alike children and
// print one table per group, each cell the min–median–max over the group (one value where they agree).
import { withinNoise } from '../../analyzers/noise';
import { lowerMedian } from '../../analyzers/compare';

export interface Spread {
  min: number;
  /** the lower middle value: always one child's own count, so pages stay whole */
  median: number;
  max: number;
}

export function spreadOf(xs: number[]): Spread {
  if (!xs.length) return { min: 0, median: 0, max: 0 };
  return { min: Math.min(...xs), median: lowerMedian(xs), max: Math.max(...xs) };
}

/** One value where the group agrees (as printed), else min–median–max. */
export function formatSpread(s: Spread, format: (n: number) => string): string {
  const [min, median, max] = [format(s.min), format(s.median), format(s.max)];
  return min === max ? median : `${min}–${median}–${max}`;
}

export { withinNoise };

/** Groups items whose page counts (name -> pages; a missing name counts 0) are all within noise of
 *  every other member's; each item joins the first group it fits, so groups keep the items' order. */
export function groupAlike<T>(items: T[], countsOf: (t: T) => Map<string, number>): T[][] {
  const groups: { items: T[]; counts: Map<string, number>[] }[] = [];
  const alike = (a: Map<string, number>, b: Map<string, number>) =>
    [...new Set([...a.keys(), ...b.keys()])].every((k) => withinNoise(a.get(k) ?? 0, b.get(k) ?? 0));
  for (const item of items) {
    const counts = countsOf(item);
    const home = groups.find((g) => g.counts.every((c) => alike(c, counts)));
    if (home) {
      home.items.push(item);
      home.counts.push(counts);
    } else groups.push({ items: [item], counts: [counts] });
  }
  return groups.map((g) => g.items);
}

/** "Child 12" or "Children 12, 13, 14". */
export function childrenLabel(pids: number[]): string {
  return pids.length === 1 ? `Child ${pids[0]}` : `Children ${pids.join(', ')}`;
}

/** "child 12 copied" or "children 12, 13, 14 each copied". */
export function whoCopied(pids: number[]): string {
  return pids.length === 1 ? `child ${pids[0]} copied` : `children ${pids.join(', ')} each copied`;
}
