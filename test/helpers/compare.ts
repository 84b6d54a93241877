// The intervention check every compare test makes: the saving blame predicted for a strategy (from the
// `none` runs) against the saving measured (none's median copied minus the strategy's).

import * as assert from 'uvu/assert';

export interface StrategyRow {
  name: string;
  copiedPerChild: { median: number };
  savedPerChild: number | null;
  predictedSavedPerChild: number | null;
}

/** |predicted − measured| as a share of none's copied bytes per child. */
export function predictionGap(s: StrategyRow, none: StrategyRow): number {
  return Math.abs((s.predictedSavedPerChild ?? 0) - (s.savedPerChild ?? 0)) / none.copiedPerChild.median;
}

/** Every strategy named (default: all but none) predicted within `share` of none's copied bytes per child. */
export function assertPredictionsWithin(strategies: StrategyRow[], share: number, names?: string[]): void {
  const none = strategies.find((s) => s.name === 'none');
  assert.ok(none, 'compare ran none');
  for (const s of strategies.filter((x) => x.name !== 'none' && (!names || names.includes(x.name)))) {
    assert.type(s.predictedSavedPerChild, 'number', `${s.name}: a prediction`);
    assert.ok(
      predictionGap(s, none!) <= share,
      `${s.name}: predicted ${s.predictedSavedPerChild} bytes, measured ${s.savedPerChild}, none copied ${none!.copiedPerChild.median} per child`,
    );
  }
}
