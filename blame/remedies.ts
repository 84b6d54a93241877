// What would help: the pages a fork strategy would save, from the causes blamed on each page. A
// strategy (steps joined by +) saves a copied page when every cause that wrote the page is one a step
// removes (the catalog's remedies). Pure; compare measures the same strategies and prints both.

import { CAUSES, Remedy, causeRow } from './catalog';

/** Copied pages grouped by the set of causes that wrote them (a page's causes, sorted), and by the
 *  steps that would release them before the fork whatever their causes (PageBlamer.releasedBy). */
export interface CauseSet {
  causes: string[];
  pages: number;
  releasedBy?: string[];
}

/** Every strategy step some cause names as its remedy, in catalog order. */
export const REMEDY_STEPS: Remedy[] = [...new Set(CAUSES.flatMap((c) => c.remedies))];

export function groupCauseSets(perPage: string[][], releasedBy: (readonly string[] | undefined)[] = []): CauseSet[] {
  const m = new Map<string, CauseSet>();
  perPage.forEach((causes, p) => {
    const released = releasedBy[p]?.length ? [...releasedBy[p]!] : undefined;
    const key = released ? `${causes.join(' ')} | ${released.join(' ')}` : causes.join(' ');
    const e = m.get(key);
    if (e) e.pages++;
    else m.set(key, released ? { causes, pages: 1, releasedBy: released } : { causes, pages: 1 });
  });
  return [...m.values()].sort((a, b) => b.pages - a.pages);
}

/** Causes a step removes from one child beyond the catalog's remedies (the runtime's StepEffect). */
export interface StepEffects {
  step: string;
  removes: string[];
  /** causes removed only on the pages where a cause in removes is too (glibc's headers and links that an
   *  allocation the step moves wrote with it) */
  alongside?: string[];
  refilled?: { pages: number; why: string };
}

/** The costs of effects that say some of what they save is written again (StepEffect.refilled): of the
 *  pages the step saves that a cause the effect removes wrote (whether the effect or the catalog has the
 *  step remove it), that many at most. Shared by the effects of other steps that remove the same causes:
 *  the same pages written again (gc and promote both free the garbage the child's sweep would), which a
 *  strategy of both counts once. */
export function refillCosts<E extends StepEffects>(sets: CauseSet[], effects: E[]): { step: E['step']; pages: number; why: string; shared: string }[] {
  return effects.flatMap((e) => {
    if (!e.refilled?.pages) return [];
    const only = savedPages(sets.filter((s) => s.causes.some((c) => e.removes.includes(c))), e.step, effects);
    const pages = Math.min(only, e.refilled.pages);
    return pages > 0 ? [{ step: e.step, pages, why: e.refilled.why, shared: `refilled ${e.removes.join(' ')}` }] : [];
  });
}

/** Does the strategy (e.g. "gc+promote") remove the cause: a step the catalog names for it, or a step
 *  whose effects in this child include it? */
function removes(strategy: string, cause: string, effects: StepEffects[], pageCauses: readonly string[]): boolean {
  const remedies = causeRow(cause)?.remedies ?? [];
  const byEffect = (e: StepEffects) => e.removes.includes(cause) || (!!e.alongside?.includes(cause) && pageCauses.some((c) => e.removes.includes(c)));
  return strategy.split('+').some((step) => (remedies as string[]).includes(step) || effects.some((e) => e.step === step && byEffect(e)));
}

/** Pages the strategy would save: those all of whose causes it removes, and those a step of it releases. */
export function savedPages(sets: CauseSet[], strategy: string, effects: StepEffects[] = []): number {
  const steps = strategy.split('+');
  let n = 0;
  for (const s of sets) if (s.releasedBy?.some((r) => steps.includes(r)) || s.causes.every((c) => removes(strategy, c, effects, s.causes))) n += s.pages;
  return n;
}

/** Pages the strategy would save net of what its steps cost: savedPages less every step's costed
 *  pages (negative when the steps cost more than they save); a cost two of its steps share, once (the
 *  larger, where their counts differ). */
export function netSavedPages(sets: CauseSet[], costs: { step: string; pages: number; shared?: string }[], strategy: string, effects: StepEffects[] = []): number {
  const steps = strategy.split('+');
  const shared = new Map<string, number>();
  let cost = 0;
  for (const c of costs) {
    if (!steps.includes(c.step)) continue;
    if (c.shared === undefined) cost += c.pages;
    else shared.set(c.shared, Math.max(shared.get(c.shared) ?? 0, c.pages));
  }
  for (const pages of shared.values()) cost += pages;
  return savedPages(sets, strategy, effects) - cost;
}

/** Per remedy step, the pages it would save net of what it costs (netSavedPages), most first (steps that
 *  save nothing on balance are left out); `steps`: the runtime's own strategy steps, the only ones named. */
export function remediesOf(
  sets: CauseSet[],
  pageSize: number,
  effects: StepEffects[] = [],
  costs: { step: string; pages: number }[] = [],
  steps?: readonly string[],
): { strategy: string; pages: number; bytes: number }[] {
  return REMEDY_STEPS.filter((strategy) => !steps || steps.includes(strategy))
    .map((strategy) => ({ strategy, pages: netSavedPages(sets, costs, strategy, effects) }))
    .map((r) => ({ ...r, bytes: r.pages * pageSize }))
    .filter((r) => r.pages > 0)
    .sort((a, b) => b.pages - a.pages);
}
