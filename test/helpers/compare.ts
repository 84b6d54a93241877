// The intervention check every compare test makes: the saving blame predicted for a strategy (from the
// `none` runs) against the saving measured (none's median copied minus the strategy's), on the runs that
// booted alike where compare can tell (analyzers/compare.ts predictionCheck).

import * as assert from 'uvu/assert';
import { predictionCheck, StrategySummary } from '../../analyzers/compare';

export interface StrategyRow {
  name: string;
  copiedPerChild: { median: number };
  savedPerChild: number | null;
  predictedSavedPerChild: number | null;
  sameBoot?: StrategySummary['sameBoot'];
}

/** |predicted − measured| as a share of none's copied bytes per child. */
export function predictionGap(s: StrategyRow, none: StrategyRow): number {
  return predictionCheck(s, none)?.gap ?? 0;
}

/** Every strategy named (default: all but none) predicted within `share` of none's copied bytes per child. */
export function assertPredictionsWithin(strategies: StrategyRow[], share: number, names?: string[]): void {
  const none = strategies.find((s) => s.name === 'none');
  assert.ok(none, 'compare ran none');
  for (const s of strategies.filter((x) => x.name !== 'none' && (!names || names.includes(x.name)))) {
    assert.type(s.predictedSavedPerChild, 'number', `${s.name}: a prediction`);
    const check = predictionCheck(s, none!)!;
    const boots = s.sameBoot ? ` (runs that booted to ${s.sameBoot.heapPages} heap pages: ${s.sameBoot.noneRuns} of none, ${s.sameBoot.runs} of ${s.name})` : '';
    assert.ok(check.gap <= share, `${s.name}: predicted ${check.predicted} bytes, measured ${check.measured}${boots}, none copied ${none!.copiedPerChild.median} per child`);
  }
}
