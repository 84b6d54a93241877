// Memory budgets for CI: what the runs measured (medians per child), the budget checks, and the
// regressions against a baseline. The result is the JSON contract (schema cowscope.budget/1; sizes in
// bytes): add fields freely, never rename.

import { median } from './compare';
import { NOISE_PAGES } from './noise';
import type { RunReport } from './run-report';

export interface Measured {
  copiedPerChild: number;
  newPerChild: number;
  sharedRatio: number;
  /** bytes per child by blamed cause (median over children and runs) */
  causes: Record<string, number>;
}

export interface Budgets {
  copiedPerChild?: number;
  sharedRatio?: number;
  newPerChild?: number;
  causes: Record<string, number>;
}

export type Tolerance = { percent: number } | { bytes: number };

export interface Check {
  name: string;
  /** a budget from the config, or a comparison with the baseline */
  kind: 'budget' | 'baseline';
  unit: 'bytes' | 'ratio';
  /** for ratios the minimum, for sizes the maximum */
  limit: number;
  measured: number;
  pass: boolean;
}

export interface BudgetResult {
  schema: 'cowscope.budget/1';
  pass: boolean;
  measured: Measured;
  checks: Check[];
  /** causes that grew beyond the tolerance against the baseline, most first */
  grew: { cause: string; baseline: number; measured: number }[];
  notes: string[];
}

export function measure(reports: RunReport[]): Measured {
  const ps = reports[0].pageSize;
  const children = reports.flatMap((r) => r.children);
  const causes: Record<string, number> = {};
  for (const cause of new Set(children.flatMap((c) => c.blame.map((b) => b.cause))))
    causes[cause] = median(children.map((c) => (c.blame.find((b) => b.cause === cause)?.pages ?? 0) * ps));
  return {
    copiedPerChild: median(children.map((c) => (c.pages.copied + (c.pages.copiedByParent ?? 0)) * ps)),
    newPerChild: median(children.map((c) => c.pages.new * ps)),
    sharedRatio: median(
      children.map((c) => {
        const resident = c.pages.shared + c.pages.copied + (c.pages.copiedByParent ?? 0) + c.pages.new;
        return resident ? c.pages.shared / resident : 1;
      }),
    ),
    causes,
  };
}

/** The most bytes a size may grow to against its baseline: whole bytes, as every size in the result
 *  (a percentage gives fractions: 5% of 2310144 is 115507.2). Rounded down, so that the limit is no
 *  looser: for a whole number of bytes, <= 2425651.2 and <= 2425651 are the same check. */
function allowance(base: number, t: Tolerance, pageSize: number): number {
  const tol = 'percent' in t ? (base * t.percent) / 100 : t.bytes;
  return Math.floor(base + Math.max(tol, NOISE_PAGES * pageSize));
}

export function evaluate(m: Measured, budgets: Budgets, baseline: Measured | undefined, tolerance: Tolerance, pageSize: number, notes: string[] = []): BudgetResult {
  const checks: Check[] = [];
  const size = (name: string, kind: Check['kind'], limit: number, measured: number) => checks.push({ name, kind, unit: 'bytes', limit, measured, pass: measured <= limit });
  if (budgets.copiedPerChild !== undefined) size('copiedPerChild', 'budget', budgets.copiedPerChild, m.copiedPerChild);
  if (budgets.newPerChild !== undefined) size('newPerChild', 'budget', budgets.newPerChild, m.newPerChild);
  if (budgets.sharedRatio !== undefined)
    checks.push({ name: 'sharedRatio', kind: 'budget', unit: 'ratio', limit: budgets.sharedRatio, measured: m.sharedRatio, pass: m.sharedRatio >= budgets.sharedRatio });
  for (const [cause, limit] of Object.entries(budgets.causes)) size(`causes.${cause}`, 'budget', limit, m.causes[cause] ?? 0);
  const grew: BudgetResult['grew'] = [];
  if (baseline) {
    size('baseline.copiedPerChild', 'baseline', allowance(baseline.copiedPerChild, tolerance, pageSize), m.copiedPerChild);
    size('baseline.newPerChild', 'baseline', allowance(baseline.newPerChild, tolerance, pageSize), m.newPerChild);
    for (const cause of new Set([...Object.keys(m.causes), ...Object.keys(baseline.causes)])) {
      const was = baseline.causes[cause] ?? 0;
      const now = m.causes[cause] ?? 0;
      if (now > allowance(was, tolerance, pageSize)) {
        grew.push({ cause, baseline: was, measured: now });
        size(`baseline.causes.${cause}`, 'baseline', allowance(was, tolerance, pageSize), now);
      }
    }
    grew.sort((a, b) => b.measured - b.baseline - (a.measured - a.baseline));
  }
  return { schema: 'cowscope.budget/1', pass: checks.every((c) => c.pass), measured: m, checks, grew, notes };
}
