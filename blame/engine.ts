// The blame engine: one primary cause per copied page, so causes add up to the copied total exactly.
//
// Input: one child's word diffs against its fork-time reference (capture.diffs) and a PageBlamer from
// the runtime that knows the structures on those pages. The engine asks the blamer for the cause of
// every changed word (or, for a page whose bytes did not change, of the page), picks the cause with
// most changed words as the page's primary cause (ties by the catalog's order) and aggregates: per
// cause, per region, per owner type/class/allocation site. Pure: `cowscope report` runs it again from
// a saved capture.

import type { Capture, PageDiffs } from '../native/capture';
import type { PageBlamer, RuntimeAdapter, StepCost, StepEffect, WordOwner } from '../runtimes/adapter';
import { causeRank } from './catalog';
import { CauseSet, groupCauseSets, refillCosts, remediesOf } from './remedies';
import { AddrMap } from './words';

export interface CauseCount {
  cause: string;
  /** pages whose primary cause this is (they add up to the copied pages) */
  pages: number;
  words: number;
  /** pages this cause wrote at all, and pages it alone wrote */
  touchedPages?: number;
  solePages?: number;
}

export interface ChildBlame {
  pid: number;
  /** copied pages blamed: always the child's copied page count */
  pages: number;
  blame: CauseCount[];
  byType: { type: string; pages: number; words: number }[];
  byClass: { class: string; pages: number; words: number }[];
  bySite: { site: string; pages: number; words: number }[];
  /** the same blame per region (ruby-heap, malloc-heap, …): where each copied page lives */
  byRegion: { region: string; pages: number; blame: CauseCount[] }[];
  /** every copied page and its primary cause (for page maps); owner: the object with most changed words
   *  on the page, when the runtime knows the owners of its words */
  perPage: { addr: Float64Array; cause: string[]; owner?: (WordOwner | undefined)[] };
  /** copied pages grouped by the set of causes that wrote them (for predicted savings) */
  causeSets: CauseSet[];
  /** per strategy step, the pages it would save: those all of whose causes it removes, less what it costs */
  remedies: { strategy: string; pages: number; bytes: number }[];
  /** per strategy step, the copied pages it would add (the runtime's model of what the step costs) */
  costs: StepCost[];
  /** per strategy step, causes it removes from this child beyond the catalog's remedies */
  effects: StepEffect[];
  /** set when the runtime version is not in its table: only version-independent rules ran */
  unknownVersion?: string;
}

type Tally = Map<string, { pages: number; words: number }>;

function bump(m: Tally, key: string, pages: number, words: number): void {
  const e = m.get(key);
  if (e) {
    e.pages += pages;
    e.words += words;
  } else m.set(key, { pages, words });
}

function sortCauses(m: Tally): CauseCount[] {
  return [...m.entries()]
    .map(([cause, v]) => ({ cause, pages: v.pages, words: v.words }))
    .sort((a, b) => b.pages - a.pages || b.words - a.words || causeRank(a.cause) - causeRank(b.cause));
}

function top<K extends string>(m: Tally, key: K, n: number): ({ [k in K]: string } & { pages: number; words: number })[] {
  return [...m.entries()]
    .map(([k, v]) => ({ [key]: k, pages: v.pages, words: v.words }) as { [k in K]: string } & { pages: number; words: number })
    .sort((a, b) => b.pages - a.pages || b.words - a.words)
    .slice(0, n);
}

/** How many children were blamed in this process (tests check that a command blames once). */
export const blameCalls = { count: 0 };

/** Thrown by a blame whose caller said it is no longer wanted (a blame thread, told to stop). */
export class BlameCancelled extends Error {
  constructor() {
    super('blame cancelled');
  }
}

/** Pages blamed between two looks at the cancel flag (a Rails worker's 7 000 pages take about a second). */
const CANCEL_EVERY = 256;

/** The running tallies of one child's blame, page by page. A class, so that V8 compiles the per-page
 *  work once for every blame, as a function of its own: a deoptimization there (new feedback on the
 *  first pages of a blame) sends that function back to the interpreter, not the loop over all pages. */
class PageTally {
  readonly pageCauses: string[][];
  /** steps that would release each page before the fork (PageBlamer.releasedBy) */
  readonly pageReleased: (readonly string[] | undefined)[];
  readonly causes: Tally = new Map();
  readonly byType: Tally = new Map();
  readonly byClass: Tally = new Map();
  readonly bySite: Tally = new Map();
  readonly regions = new Map<string, Tally>();
  readonly pageCause: string[];
  readonly pageOwner: (WordOwner | undefined)[];
  // Per-word work over small integers: causes interned to ids, words counted per id in a typed array.
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly ranks: number[] = [];
  private wordsOf = new Float64Array(64);
  private readonly wordCauses: string[] = [];
  private readonly ownerKeys: number[] = [];
  private readonly ownerAt = new AddrMap<number>(); // owner key (an address) -> slot in ownerFirst/ownerWords, this page
  private readonly ownerFirst: number[] = [];
  private readonly ownerWords: number[] = [];
  // the causes of the page at hand and their changed words (changedPage), for its region's tally
  private readonly pageWordCauses: string[] = [];
  private readonly pageWordCounts: number[] = [];

  constructor(
    private readonly blamer: PageBlamer,
    private readonly diffs: PageDiffs,
    /** look up the owners of the words (byType, byClass, bySite, perPage.owner) */
    private readonly withOwners: boolean,
  ) {
    this.pageCauses = new Array(diffs.addrs.length);
    this.pageReleased = new Array(diffs.addrs.length);
    this.pageCause = new Array(diffs.addrs.length);
    this.pageOwner = new Array(diffs.addrs.length);
  }

  private idOf(c: string): number {
    let id = this.ids.get(c);
    if (id === undefined) {
      this.ids.set(c, (id = this.names.length));
      this.names.push(c);
      this.ranks.push(causeRank(c));
      if (id >= this.wordsOf.length) {
        const grown = new Float64Array(this.wordsOf.length * 2);
        grown.set(this.wordsOf);
        this.wordsOf = grown;
      }
    }
    return id;
  }

  /** Copied page p, its changed words [first, end). */
  page(p: number, first: number, end: number): void {
    const { blamer, diffs, pageCauses, pageWordCauses, pageWordCounts } = this;
    pageWordCauses.length = 0;
    pageWordCounts.length = 0;
    let primary: string;
    if (diffs.status[p] === 0) primary = blamer.identicalPage(p);
    else if (diffs.status[p] !== 1) primary = 'unknown'; // unreadable: no words to judge
    else primary = this.changedPage(p, first, end);
    this.pageCause[p] = primary;
    pageCauses[p] ??= [primary];
    this.pageReleased[p] = blamer.releasedBy?.(p);
    const silent = blamer.silentCauses(p, pageCauses[p]).filter((c) => !pageCauses[p].includes(c));
    if (silent.length) pageCauses[p] = [...pageCauses[p], ...silent].sort();
    bump(this.causes, primary, 1, 0);
    const region = blamer.regionOf(diffs.addrs[p]);
    let r = this.regions.get(region);
    if (!r) this.regions.set(region, (r = new Map()));
    bump(r, primary, 1, 0);
    for (let i = 0; i < pageWordCauses.length; i++) bump(r, pageWordCauses[i], 0, pageWordCounts[i]);
  }

  /** A page whose words changed: the cause with most of its words (ties by the catalog's order), and
   *  the owner with most. */
  private changedPage(p: number, first: number, end: number): string {
    const { blamer, wordCauses, ownerKeys, names, ranks } = this;
    // the words' rows: the first end - first of each array (never shortened: see PageBlamer.changedWords)
    blamer.changedWords(p, first, end, wordCauses, this.withOwners ? ownerKeys : null);
    const here: number[] = [];
    let lastCause = '';
    let id = -1;
    for (let i = 0; i < end - first; i++) {
      const c = wordCauses[i];
      if (c !== lastCause) {
        // runs of one cause are common
        lastCause = c;
        id = this.idOf(c);
      }
      if (this.wordsOf[id]++ === 0) here.push(id); // wordsOf grows with the ids: read after idOf
    }
    let best = -1;
    const counts = this.wordsOf;
    for (const id of here) {
      if (best < 0 || counts[id] > counts[best] || (counts[id] === counts[best] && ranks[id] < ranks[best])) best = id;
      bump(this.causes, names[id], 0, counts[id]);
      this.pageWordCauses.push(names[id]);
      this.pageWordCounts.push(counts[id]);
    }
    this.pageCauses[p] = here.map((id) => names[id]).sort();
    for (const id of here) counts[id] = 0;
    if (this.withOwners) this.owners(p, first, end);
    return best < 0 ? 'unknown' : names[best];
  }

  /** Owners: words per owner on this page; the page counts for the owner with most words (the first
   *  such owner met). The blamer describes each owner once a page, from its first word here. */
  private owners(p: number, first: number, end: number): void {
    const { blamer, ownerKeys, ownerAt, ownerFirst, ownerWords } = this;
    ownerAt.clear();
    ownerFirst.length = 0;
    ownerWords.length = 0;
    let lastKey = 0;
    let lastAt = -1;
    for (let i = 0; i < end - first; i++) {
      const key = ownerKeys[i];
      if (!key) continue;
      if (key === lastKey) {
        ownerWords[lastAt]++; // an owner's words come one after another
        continue;
      }
      const at = ownerAt.get(key);
      lastKey = key;
      lastAt = at ?? ownerFirst.length;
      if (at === undefined) {
        ownerAt.set(key, ownerFirst.length);
        ownerFirst.push(first + i);
        ownerWords.push(1);
      } else ownerWords[at]++;
    }
    let bestOwner: WordOwner | undefined;
    let bestWords = 0;
    for (let i = 0; i < ownerFirst.length; i++) {
      const owner = blamer.ownerOf(ownerFirst[i]);
      if (!owner) continue;
      const n = ownerWords[i];
      if (!bestOwner || n > bestWords) [bestOwner, bestWords] = [owner, n];
      this.bumpOwner(owner, 0, n);
    }
    if (bestOwner) {
      this.pageOwner[p] = bestOwner;
      this.bumpOwner(bestOwner, 1, 0);
    }
  }

  /** pages and words to an owner's type, class and allocation site */
  private bumpOwner(owner: WordOwner, pages: number, words: number): void {
    bump(this.byType, owner.type, pages, words);
    bump(this.byClass, owner.class, pages, words);
    if (owner.site) bump(this.bySite, owner.site, pages, words);
  }
}

/** What a caller wants of a blame beyond the causes. */
export interface BlameOptions {
  /** looked at every few hundred pages; true throws BlameCancelled */
  cancelled?: () => boolean;
  /** false: no owners (byType, byClass and bySite empty, no perPage.owner), for callers that show none
   *  (inspect's tables, JSON and metrics): their lookups are ~10% of a Rails worker's blame */
  owners?: boolean;
}

/** Blame of one child, page by page, through the runtime's blamer. */
export function blameWith(blamer: PageBlamer, diffs: PageDiffs, pageSize: number, opts: BlameOptions = {}): ChildBlame {
  const { cancelled, owners = true } = opts;
  blameCalls.count++;
  if (cancelled?.()) throw new BlameCancelled();
  const tally = new PageTally(blamer, diffs, owners);
  let w = 0;
  for (let p = 0; p < diffs.addrs.length; p++) {
    if (cancelled && p % CANCEL_EVERY === 0 && cancelled()) throw new BlameCancelled();
    const first = w;
    while (w < diffs.wordPage.length && diffs.wordPage[w] === p) w++;
    tally.page(p, first, w);
  }
  const { pageCauses, pageReleased, causes, byType, byClass, bySite, regions, pageCause, pageOwner } = tally;
  const byRegion = [...regions.entries()]
    .map(([region, m]) => ({ region, pages: [...m.values()].reduce((n, v) => n + v.pages, 0), blame: sortCauses(m) }))
    .sort((a, b) => b.pages - a.pages);
  const causeSets = groupCauseSets(pageCauses, pageReleased);
  const effects = blamer.effects?.(pageCauses, pageReleased) ?? [];
  const costs = [...(blamer.costs?.() ?? []), ...refillCosts(causeSets, effects)];
  const blame = sortCauses(causes).map((b) => ({
    ...b,
    touchedPages: causeSets.reduce((n, s) => n + (s.causes.includes(b.cause) ? s.pages : 0), 0),
    solePages: causeSets.reduce((n, s) => n + (s.causes.length === 1 && s.causes[0] === b.cause ? s.pages : 0), 0),
  }));
  return {
    pid: diffs.pid,
    pages: diffs.addrs.length,
    blame,
    byType: top(byType, 'type', 10),
    byClass: top(byClass, 'class', 10),
    bySite: top(bySite, 'site', 10),
    byRegion,
    perPage: { addr: diffs.addrs, cause: pageCause, owner: owners ? pageOwner : undefined },
    causeSets,
    remedies: remediesOf(causeSets, pageSize, effects, costs, blamer.strategySteps),
    costs,
    effects,
    unknownVersion: blamer.unknownVersion,
  };
}

/** Blame for one child against the reference its diffs were taken from (the twin, or a live master).
 *  gcRuns: GC runs of the child during the measured interval (live mode passes 1: unknown, likely). */
export function blameChild(adapter: RuntimeAdapter, capture: Capture, diffs: PageDiffs, gcRuns: number, opts: BlameOptions = {}): ChildBlame {
  return blameWith(adapter.blamer(capture, diffs, gcRuns), diffs, capture.meta.pageSize, opts);
}
