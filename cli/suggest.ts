// "Did you mean": the known word nearest to a mistyped one (an option, a strategy step), for the one-line
// usage errors. Near means a Damerau-Levenshtein distance (an insertion, deletion, substitution or swap of
// two neighbours each count one) of at most a third of the word, at least 1 (`--repeats` -> `--repeat`,
// `prewram` -> `prewarm`, `gcc` -> `gc`: one edit each), or a candidate that begins with the word
// (`--childs` -> `--children`); a word that far from every candidate gets no suggestion rather than a
// wild one.

/** Edits between a and b (optimal string alignment: each neighbour swap counts once). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = new Uint16Array(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1];
}

/** Length of the start a and b share. */
function sharedStart(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** The candidate nearest to word (case ignored), when near enough; the first of equally near ones; for a
 *  word of one or two letters, only the same word.
 *  A candidate that begins with all of the word but its last letter, four letters at least (`--childs`,
 *  `--child` for `--children`), counts as one edit away whatever its length: a plural or a word cut short. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  // one or two letters (`-x`) say too little to guess from
  if (w.length < 3) return candidates.find((c) => c.toLowerCase() === w);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const lc = c.toLowerCase();
    if (lc === w) return c;
    const distance = sharedStart(w, lc) >= Math.max(4, w.length - 1) ? 1 : editDistance(w, lc);
    if (distance < bestDistance) [best, bestDistance] = [c, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(w.length / 3)) ? best : undefined;
}

/** " (did you mean X?)" to end a message with, or nothing. */
export function didYouMean(word: string, candidates: readonly string[], show: (c: string) => string = (c) => c): string {
  const c = nearest(word, candidates);
  return c === undefined ? '' : ` (did you mean ${show(c)}?)`;
}
