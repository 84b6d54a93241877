// Predictions checked by interventions: on fixtures that plant two causes at once, `compare` measures
// each strategy against none, and the saving blame predicted from the none run (pages all of whose
// causes the strategy removes) must be within 10% of none's copied bytes per child (medians of 3 runs). Strategies whose
// effect the cause catalog models on the version run here; the rest are listed in the note of the issue.
// The runs use --no-aslr: with randomised addresses alone, the pages a child's fresh mallocs spread over
// (the call-cache entries of the cold calls) vary by up to 400 of ~3,200 copied pages between runs of the
// same program (measured on 3.3.8), noise of the layout, not of the prediction; with the same layout every
// run copies the same pages to within a few.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RUBY_FIXTURES, runCowscope, tempDir, testRubies } from './helpers/ruby';
import { layoutFor } from '../runtimes/ruby/layouts';
import { StrategyRow, assertPredictionsWithin } from './helpers/compare';
import { loadCapture } from '../native/capture-file';
import type { Capture } from '../native/capture';
import { adapterOf } from '../runtimes';
import { blameWith } from '../blame/engine';
import { lastAtOrBelow } from '../blame/words';

/** Strategies whose saving the catalog models on a version. Not yet on 3.1: its age lives in the flags,
 *  and a single full GC there is a partial promote that the catalog does not model (prewarm is held there
 *  on the modes that say so: `every`). Measured there with the rules of an earlier session (compare,
 *  --repeat 3; single runs since gave prewarm 45% short on gc_young_garbage and 21% on gc_cold_garbage
 *  before it removed gc.sweep, 5.2% and 4.3% after): gc_young_garbage within 2.3% for all four strategies,
 *  gc_cold_garbage gc 9.2%, promote 9.6%, warmup 7.2%, prewarm 5.9% (the gc child copied 343 pages more
 *  than none's; none of the causes says why yet). On 3.3 and 3.4: 0.1-7.4%, prewarm 0.1-7.0%, since
 *  the size word of a chunk the child's cache fill allocated is the cache fill's (10.9% before). */
const modelled = (version: string) => (layoutFor(version)?.ageInFlags ? [] : ['gc', 'promote', 'warmup', 'prewarm']);

/** The modes, and the strategies each holds to 10% (of those modelled on the version). gc_lone_garbage
 *  is young garbage with no young survivor on its heap pages: the child's GC frees it without aging
 *  anything there, so a GC before the fork saves those pages. Measured (3.3.8, 3.4.5): gc, promote and
 *  warmup within 0.6% / 5.3%; before young garbage was told from aged objects (and a slot straddling two
 *  OS pages judged with its flags word) gc was 38-39% off. prewarm too, on every Ruby: its run of this
 *  workload is one GC, which frees the garbage as gc does, and allocates nothing that could take its
 *  place (the none child has no new memory: docs/ruby.md, "Garbage the child refills"). Measured
 *  (single runs, --no-aslr, 2 each): prewarm -1.4%, 2.3%, 3.2% on 3.1.2, 3.3.8, 3.4.5; 42-55% short
 *  before prewarm removed gc.sweep. gc_young_garbage and gc_cold_garbage hold prewarm on 3.1 as well
 *  (5.2% and 4.3% short; they were 45% and 21%). */
/** gc_next_old plants young objects one GC short of old (age 2) and a minor GC in the child, which
 *  promotes them: a GC before the fork (gc, and every strategy that runs one) promotes them in the parent
 *  instead. Measured: gaps within 6.4% for all four strategies on 3.1.2, 3.3.8 and 3.4.5 (gc -4.5, -6.4,
 *  -5.4%), the age read from the flags word (3.1) or struct heap_page's age bits (3.3+); before those
 *  promotions were told from the others, gc was predicted to save 9 of 974 pages (-75.6%, 3.4.5). It runs
 *  on 3.1 too (allAges): the age is all it needs. */
/** gc_refill_garbage: the child's GC frees 40,000 garbage Arrays and the child fills their slots with
 *  40,000 new Arrays. The new objects' words are the allocation's (alloc.swept-slot), told by their age:
 *  younger than any object that lived through the child's GCs. gc and promote leave those pages copied
 *  (the child allocates there all the same); warmup packs the live objects, and the child's Arrays land
 *  on pages of their own (3.3: Process.warmup frees the emptied pages) or on the packed free slots (3.1's
 *  GC.compact, 3.4.5's warmup: a cost). Measured (--repeat 3): warmup predicted 1102 / 1078 / 730 pages
 *  against 1102 / 1126 / 768 measured on 3.1.2 / 3.3.8 / 3.4.5; before, the new Arrays' words were
 *  mutation.array, and warmup was predicted to save none of those ~770 pages. Not prewarm: the prewarm's
 *  run keeps its own 40,000 Arrays, which the child's run frees. */
const tmp = tempDir('predicted');
test.after(() => tmp.remove());

/** coderange: the child computes the coderange of 20,000 preloaded Strings (as Hash keys), and nothing
 *  else runs a GC: the coderange step computes them in the parent, and so does a prewarm, whose run of
 *  the workload is the first to ask (string.coderange is among the causes prewarm removes). Measured
 *  (--repeat 3), predicted against measured per child: prewarm 2.6M/2.6M, 2.8M/2.7M, 1.6M/1.6M on 3.1.2,
 *  3.3.8, 3.4.5; before prewarm was in the cause's row it was predicted to save 100K of 1.6M (78% off). */
const MODES: { mode: string; holds: string[]; allAges?: boolean; every?: string[] }[] = [
  { mode: 'coderange', holds: ['coderange', 'prewarm'], every: ['coderange', 'prewarm'] },
  // date_read: a prewarm's run computes the 80,000 Dates' civil dates (40,000 when measured) in the parent (object.data-cache);
  // measured (--repeat 2) 9.5M/9.5M, 3.7M/3.7M, 4.7M/4.7M predicted/measured on 3.1.2, 3.3.8, 3.4.5
  { mode: 'date_read', holds: ['prewarm'], every: ['prewarm'] },
  // gc_churn: what a prewarm costs. The workload drops 80,000 Strings, collects them, and drops 80,000
  // more; the none child's first batch goes to new memory, its second into the slots the GC freed. After
  // a prewarm the parent's second batch is garbage at the fork, which the child's GC sweeps and its
  // Strings refill: copies. Blame counts the none child's new memory as prewarm's cost. Measured
  // (--repeat 2), predicted / measured saving per child: -4.3M / -3.7M, -12.4M / -11.9M, -7.5M / -7.1M on
  // 3.1.2, 3.3.8, 3.4.5 (gaps 7.3%, 5.3%, 7.1% of none's copied); before, prewarm was predicted to save
  // 1.1M on 3.3.8 (131% off). Since prewarm removes gc.sweep less what its garbage refills (capped by the
  // same new pages), single runs: 8.5%, 5.7%, 8.2%; without that cap, 24-43%.
  { mode: 'gc_churn', holds: ['prewarm'], every: ['prewarm'] },
  // On 3.1 too (single runs, --no-aslr): gc_young_garbage gc -5.8%, promote -1.4%, warmup -1.3%, prewarm
  // -5.2%; gc_cold_garbage gc 2.9-4.2%, promote 7.7%, warmup 6.1%, prewarm -4.1%. Its promote was 9.3-10.4%
  // before the steps that run a GC before the fork paid for the slots its child then refills: the call
  // caches the none child put in new heap pages before its GC (gcRefillEffects; 80 pages predicted, 73
  // measured).
  { mode: 'gc_young_garbage', holds: ['gc', 'promote', 'warmup', 'prewarm'], every: ['gc', 'promote', 'warmup', 'prewarm'] },
  { mode: 'gc_cold_garbage', holds: ['gc', 'promote', 'warmup', 'prewarm'], every: ['gc', 'promote', 'warmup', 'prewarm'] },
  { mode: 'gc_lone_garbage', holds: ['gc', 'promote', 'warmup', 'prewarm'], every: ['prewarm'] },
  { mode: 'gc_next_old', holds: ['gc', 'promote', 'warmup', 'prewarm'], allAges: true },
  { mode: 'gc_refill_garbage', holds: ['gc', 'promote', 'warmup'], allAges: true },
];

for (const { ruby, version } of testRubies())
  for (const { mode, holds, allAges, every } of MODES) {
    // every: also modelled on versions the others are not (nothing those strategies remove depends on 3.1's ages)
    const strategies = [...new Set([...(allAges ? ['gc', 'promote', 'warmup', 'prewarm'] : modelled(version)), ...(every ?? [])])].filter((s) => holds.includes(s));
    if (!strategies.length) continue;
    test(`Ruby ${version} ${mode}: predicted saving within 10% of the measured one (${strategies.join(', ')})`, () => {
      const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '3', '--children', '1', '--strategies', ['none', ...strategies].join(','), '--', ruby, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: mode });
      assert.is(r.status, 0, r.stderr);
      assertPredictionsWithin(JSON.parse(r.stdout).strategies, 0.1);
    });
  }

// fixtures/ruby/collected_parent.rb: a parent collected three times before forking, a child allocating
// into the free slots and freeing most of it with its own GC. A GC before the fork finds no garbage there,
// so it saves nothing: the refilled free slots are the child's allocation, not the sweep's. Before, 235
// pages a child were gc.sweep and gc was predicted to save 676 KiB against 52 KiB measured (3.4.5, 25% of
// none's copied); now within 1% on 3.3.8 and 3.4.5.
for (const { ruby, version } of testRubies())
  if (modelled(version).includes('gc'))
    test(`Ruby ${version} collected_parent: a child's own allocations and frees in a collected parent's free slots, predicted as gc saves them (nothing)`, () => {
      const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '3', '--children', '1', '--strategies', 'none,gc', '--', ruby, path.join(RUBY_FIXTURES, 'collected_parent.rb')]);
      assert.is(r.status, 0, r.stderr);
      assertPredictionsWithin(JSON.parse(r.stdout).strategies, 0.1);
    });

// fixtures/ruby/free_slots.rb: a child that ran no GC (the workload disables it) and filled every slot
// free at the fork (160,000 Arrays, 40,000 free slots), then new heap pages. A prewarm's run fills those
// slots in the parent and nothing frees its garbage before the fork: the child allocates on new pages
// only, and the pages of alloc.free-slot are saved. Predicted against measured pages a child: 986 / 937,
// 927 / 921, 965 / 934 on 3.1.2, 3.3.8, 3.4.5; 19-27 predicted without that effect (QA programs that
// disable the GC: 37-138 predicted, 211-2,066 saved).
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} free_slots: a child that ran no GC and outgrew the free slots, prewarm predicted to save its alloc.free-slot pages, within 10%`, () => {
    const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '3', '--children', '1', '--strategies', 'none,prewarm', '--', ruby, path.join(RUBY_FIXTURES, 'free_slots.rb')]);
    assert.is(r.status, 0, r.stderr);
    const strategies = JSON.parse(r.stdout).strategies as (StrategyRow & { blame?: { cause: string; pages: number }[] })[];
    const none = strategies.find((s) => s.name === 'none')!;
    const freeSlot = none.blame?.find((b) => b.cause === 'alloc.free-slot')?.pages ?? 0;
    // the 40,000 slots of 40 bytes at least, spread over the boot's pages
    assert.ok(freeSlot >= Math.ceil((40_000 * 40) / 4096), `alloc.free-slot ${freeSlot} pages`);
    const prewarm = strategies.find((s) => s.name.startsWith('prewarm'))!;
    assert.ok(prewarm.predictedSavedPerChild! >= freeSlot * 4096, `prewarm predicted ${prewarm.predictedSavedPerChild} bytes, alloc.free-slot ${freeSlot} pages`);
    assertPredictionsWithin(strategies, 0.1);
  });

// fixtures/ruby/object_ids.rb: 20,000 preloaded objects frozen in the child and 20,000 others given an
// object_id, on pages of their own: each cause on the pages the parent computed from the objects'
// addresses, and prewarm (which removes both) predicted within 3%. The object-id tables grow from empty
// by rebuilds, and the bins each rebuild freed lie in chunks the child allocated: 71 pages of alloc.malloc
// a child (3.1.2, 52 on 3.3.8), which prewarm saves as well, until the bins of rebuilt tables took their
// table's cause. Measured before: prewarm predicted 573 pages, saved 632 (3.1.2, 8.2% of none's 722);
// after, 628 against 628 (3.1.2) and 621 against 617 (3.3.8).
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} object_ids: object.freeze and object.id on the pages their objects lie on, and prewarm predicted within 3% (the object-id tables' old bins included)`, () => {
    const fixture = path.join(RUBY_FIXTURES, 'object_ids.rb');
    const run = runCowscope(['run', '--json', '--no-aslr', '--children', '1', '--', ruby, fixture]);
    assert.is(run.status, 0, run.stderr);
    const [frozen, withId, both] = (/flags words on (\d+) pages \(frozen\), (\d+) pages \(object_id\), (\d+) pages both/.exec(run.stderr) ?? []).slice(1).map(Number);
    assert.ok(frozen > 250 && withId > 150 && both === 0, run.stderr);
    const child = JSON.parse(run.stdout).children[0];
    const pages = (cause: string) => child.blame.find((b: { cause: string }) => b.cause === cause)?.pages ?? 0;
    // the last page of each set may hold another cause's words too, and count for it
    assert.ok(pages('object.freeze') >= frozen - 2 && pages('object.freeze') <= frozen, `object.freeze ${pages('object.freeze')} pages, the frozen set on ${frozen}`);
    assert.ok(pages('object.id') >= withId - 2, `object.id ${pages('object.id')} pages, the other set on ${withId}`);
    const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '3', '--children', '1', '--strategies', 'none,prewarm', '--', ruby, fixture]);
    assert.is(r.status, 0, r.stderr);
    assertPredictionsWithin(JSON.parse(r.stdout).strategies, 0.03);
  });

// fixtures/ruby/freeze_slack.rb: 30,000 preloaded Strings with room to spare frozen in the child, which
// shrinks their buffers first: the freeze's writes in the slots (the flags and the capacity word) and in
// the buffers' chunks (the sizes and links glibc writes as the realloc splits each one). Before: 3.1.2
// 3,245 pages malloc.meta, 409 string.coderange-cleared and 102 object.freeze of 3,820 copied, prewarm
// predicted to save 27 pages where it saved 3,748 (QA). Now object.freeze 97% of the copied pages on 3.1.2,
// 3.3.8 and 3.4.5, and prewarm within 0.5% on 3.3.8 and 3.4.5. On 3.1.2 prewarm is printed only: predicted
// 3,305 pages, saved 3,752 (11.6% short): ~400 pages of the freeze's also hold the links of chunks free at
// the fork that glibc rewrote before the remainders' frees merged with them (malloc.meta, which no step
// removes; the child's frees caused them, and a prewarm does those frees in the parent).
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} freeze_slack: Strings with room to spare frozen in the child, their buffers shrunk: the pages are object.freeze`, () => {
    const fixture = path.join(RUBY_FIXTURES, 'freeze_slack.rb');
    // 30,000 buffers of 416 bytes: ~3,050 pages, and the slots' ~750; of 2,016: ~14,800 and the slots'
    for (const [capacity, least] of [['400', 3500], ['2000', 15000]] as const) {
      const run = runCowscope(['run', '--json', '--no-aslr', '--children', '1', '--', ruby, fixture], { FREEZE_SLACK_CAPACITY: capacity });
      assert.is(run.status, 0, run.stderr);
      const child = JSON.parse(run.stdout).children[0];
      const pages = (re: RegExp) => child.blame.filter((b: { cause: string }) => re.test(b.cause)).reduce((n: number, b: { pages: number }) => n + b.pages, 0);
      const summary = `capacity ${capacity}: ${child.pages.copied} copied, ${JSON.stringify(child.blame.slice(0, 6))}`;
      assert.ok(child.pages.copied > least, summary);
      assert.ok(pages(/^object\.freeze$/) >= 0.95 * child.pages.copied, summary);
      assert.ok(pages(/^(malloc\.meta|string\.coderange-cleared|mutation\.string)$/) <= 0.02 * child.pages.copied, summary);
    }
    // the prediction at a capacity of 400 (at 2000, 3.4.5's prewarm child may copy ~5,000 pages more at
    // the fork itself: the prewarm's frees left in glibc's unsorted bin, sorted by fork's first malloc,
    // malloc.bin-sort, a cost of the prewarm that the catalog does not model: not this rule's)
    const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '1', '--children', '1', '--strategies', 'none,prewarm', '--', ruby, fixture]);
    assert.is(r.status, 0, r.stderr);
    const strategies = JSON.parse(r.stdout).strategies;
    if (version.startsWith('3.1.')) {
      const [none, prewarm] = ['none', 'prewarm'].map((n) => strategies.find((s: StrategyRow) => s.name === n)!);
      console.log(`  ${version} freeze_slack: prewarm predicted ${prewarm.predictedSavedPerChild} bytes, measured ${prewarm.savedPerChild}, none copied ${none.copiedPerChild.median} (printed only)`);
    } else assertPredictionsWithin(strategies, 0.1);
  });

// fixtures/ruby/compact_in_child.rb: GC.compact in the child moves 15,000-30,000 of 30,000 kept Objects (every
// other one of 60,000 dropped before the fork). Before, no page was gc.compact: the old slots gc.sweep, the
// new ones object.ivar, the Array's rewritten elements mutation.array, 3.1's reference update (every
// reference stored back) same-value.unknown, and gc was predicted to save 307-664 pages a child where it
// saved 17-34 (QA). Now the moves are read off the rewritten references where the child compacted
// (gcCompactions), and gc is predicted within 0.5% of none's copied on every Ruby. compact is printed only:
// the child's own GC.compact still writes half of those pages after a compaction in the parent (3.1: the
// reference update's same values; 3.3+: a second compaction moves most objects again), which the catalog
// does not model (predicted 4.2M, saved 2.9M on 3.1.2; 3.3.8, 3.4.5: 0.1M predicted, 2.2M saved).
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} compact_in_child: the objects GC.compact moved in the child and the references to them are gc.compact, and gc predicted within 10%`, () => {
    const fixture = path.join(RUBY_FIXTURES, 'compact_in_child.rb');
    const save = path.join(tmp.dir, `compact_in_child-${version}.cow`);
    const out = path.join(tmp.dir, `compact_in_child-${version}.txt`);
    const run = runCowscope(['run', '--json', '--no-aslr', '--children', '1', '--save', save, '--', ruby, fixture], { COWSCOPE_FIXTURE_OUT: out });
    assert.is(run.status, 0, run.stderr);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    const [, elementsAt, count] = lines.pop()!.split(' ');
    const kept = lines.map((h) => parseInt(h, 16));
    assert.is(kept.length, Number(count));
    const capture = loadCapture(save);
    const causes = wordCausesOf(capture);
    const tally = (addrs: number[]) => {
      const m = new Map<string, number>();
      for (const a of addrs) if (causes.has(a)) m.set(causes.get(a)!, (m.get(causes.get(a)!) ?? 0) + 1);
      return m;
    };
    // the kept Objects' flags words at the fork that changed (0 now: the object moved away, alive), and
    // the Array's element words that changed (a moved Object's new address)
    const flags = tally(kept);
    const elements = tally(kept.map((_, i) => parseInt(elementsAt, 16) + 8 * i));
    const summary = `flags ${JSON.stringify([...flags])}, elements ${JSON.stringify([...elements])}`;
    const changed = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    assert.ok(changed(elements) >= 0.4 * kept.length, `most kept Objects moved: ${summary}`);
    assert.is(elements.get('gc.compact'), changed(elements), summary);
    assert.ok((flags.get('gc.compact') ?? 0) >= 0.99 * changed(flags), summary);
    const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '1', '--children', '1', '--strategies', 'none,gc,compact', '--', ruby, fixture]);
    assert.is(r.status, 0, r.stderr);
    const strategies: StrategyRow[] = JSON.parse(r.stdout).strategies;
    assertPredictionsWithin(strategies, 0.1, ['gc']);
    const [none, compact] = ['none', 'compact'].map((n) => strategies.find((s) => s.name === n)!);
    console.log(`  ${version} compact_in_child: compact predicted ${compact.predictedSavedPerChild} bytes, measured ${compact.savedPerChild}, none copied ${none.copiedPerChild.median} (printed only)`);
  });

// fixtures/ruby/young_marked.rb: a minor GC in the child over 30,000 objects young at the fork. Its mark
// stack is chunks of 500 references it mallocs; where they lie in memory free at the fork (3.1.2, 3.4.5:
// 49 chunks, 56-69 pages) they were alloc.malloc, which no step removes, and promote (which removes
// gc.mark-stack) was predicted 6-9% of none's copied short (QA). Now gc.mark-stack, and promote within
// 4.6% (3.1.2), 1.7% (3.3.8), 0.6% (3.4.5).
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} young_marked: the mark-stack chunks the child's GC mallocs are gc.mark-stack, and promote predicted within 10%`, () => {
    const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '3', '--children', '1', '--strategies', 'none,promote', '--', ruby, path.join(RUBY_FIXTURES, 'young_marked.rb')]);
    assert.is(r.status, 0, r.stderr);
    const strategies: (StrategyRow & { blame: { cause: string; pages: number }[] })[] = JSON.parse(r.stdout).strategies;
    const none = strategies.find((s) => s.name === 'none')!;
    const pages = (cause: string) => none.blame.find((b) => b.cause === cause)?.pages ?? 0;
    assert.ok(pages('alloc.malloc') <= 10, `alloc.malloc ${pages('alloc.malloc')} pages, gc.mark-stack ${pages('gc.mark-stack')}: ${JSON.stringify(none.blame.slice(0, 6))}`);
    assertPredictionsWithin(strategies, 0.1);
  });

// fixtures/ruby/coderange_promote.rb: Strings young at the fork whose coderange the child computes, then
// promotes: one flags word, the GC's write and the program's. Before, the word was gc.promote alone, and
// promote was predicted to save 6.5M a child where it saved 324K (3.4.5; 3.3.8: 6.6M against 636K):
// the coderange keeps the pages copied. Now a cause of the page beside the word's: promote predicted
// 372K (3.4.5), 504K (3.3.8); 3.1.2 5.1M and 5.1M (its child's GCs sweep the boot's garbage there).
// Not gc: on 3.3.8 it made the child copy 1.0M more where 364K less was predicted (18% of none's copied,
// before and after this change), which no cause here says yet.
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} coderange_promote: a String promoted and given its coderange in the child, predicted as promote saves it only with the coderange step`, () => {
    const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '2', '--children', '1', '--strategies', 'none,promote,coderange+promote', '--', ruby, path.join(RUBY_FIXTURES, 'coderange_promote.rb')]);
    assert.is(r.status, 0, r.stderr);
    assertPredictionsWithin(JSON.parse(r.stdout).strategies, 0.1);
  });

// fixtures/ruby/young_constant.rb, on a Ruby whose GC makes old at once what it reaches through an old
// object (3.1, RubyLayout.oneGcPromotes): 50,000 Objects young at the fork, held by a constant, and one
// minor GC in the child, which promotes every one. A GC before the fork promotes them in the parent.
// Before, those promotions were gc.promote, which gc does not remove, and gc was predicted to save 40K
// of the 2.4M a child it saved (QA: 68K of 2.1M, on a program with three GCs in its children, where the
// two ways an object gets old are still not told apart). Measured since (--repeat 3): gc 0.4%, promote
// 0.2%.
for (const { ruby, version } of testRubies())
  if (layoutFor(version)?.oneGcPromotes)
    test(`Ruby ${version} young_constant: young objects an old one holds, made old by the child's one GC, predicted as gc saves them`, () => {
      const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '3', '--children', '1', '--strategies', 'none,gc,promote', '--', ruby, path.join(RUBY_FIXTURES, 'young_constant.rb')]);
      assert.is(r.status, 0, r.stderr);
      const strategies = JSON.parse(r.stdout).strategies as StrategyRow[];
      assertPredictionsWithin(strategies, 0.1);
      // not two small numbers close together: the objects' 50,000 flags words lie on ~490 pages
      const gc = strategies.find((s) => s.name === 'gc')!;
      assert.ok((gc.predictedSavedPerChild ?? 0) >= 490 * 4096, `gc predicted ${gc.predictedSavedPerChild} bytes`);
    });

// fixtures/ruby/transient_fill.rb (3.1): the child's young Arrays take transient-heap blocks the parent's
// GCs emptied and kept. A GC before the fork only empties them again. Before, those pages were
// alloc.transient, which gc, promote and nakayoshi remove: 161 pages (65% of none's copied) predicted, none
// measured (QA: a program parsing times in its workers, 418 pages predicted, 4 and -15 saved).
for (const { ruby, version } of testRubies().filter((r) => r.version.startsWith('3.1.')))
  test(`Ruby ${version} transient_fill: buffers the child puts in transient-heap blocks emptied at the fork, predicted as gc and promote save them (nothing)`, () => {
    const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', '3', '--children', '1', '--strategies', 'none,gc,promote', '--', ruby, path.join(RUBY_FIXTURES, 'transient_fill.rb')]);
    assert.is(r.status, 0, r.stderr);
    assertPredictionsWithin(JSON.parse(r.stdout).strategies, 0.1);
  });

// The blame behind gc_lone_garbage's prediction, on every Ruby: the child's GC frees 40,000 young objects
// of 40 bytes (391 OS pages of them at least) beside nothing young of the fixture's, so the pages it
// sweeps are the sweep's. Before, 3.3.8 gave 225 of its 423 such pages gc.age as well (young garbage
// counted as aged) and 73 object.singleton (a freed slot straddling two OS pages: its free-list link, on
// the second, read as a changed class pointer): so no word of a slot the child freed may be blamed an object
// or mutation cause. (Pages, not words, held to 1% until the agent's own work in the child grew: its
// GC.stat reads at the end put genuine mutation words on 4-5 pages the sweep wrote too, 1.0-1.2% of them,
// none in a freed slot.) What young objects the garbage does have beside it are
// the program's own last ones (the call and constant caches of code first run after the fixture's GCs,
// the agent's strings and Hashes at the fork), and a GC ages them: so a swept GC heap page blamed gc.age
// as well must hold one of those at the fork, by the heap map (the age bits of struct heap_page, off the
// GC heap, have their own rule-table rows).
const T_OBJECT = 1;
const GC_FLAG_OLD = 2;
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} gc_lone_garbage: the pages the child's GC sweeps are the sweep's (aged only where a young object other than the garbage lived, no freed slot read as a change)`, () => {
    const save = path.join(tmp.dir, `lone-${version}.cow`);
    const r = runCowscope(['run', '--json', '--no-aslr', '--children', '1', '--save', save, '--', ruby, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'gc_lone_garbage' });
    assert.is(r.status, 0, r.stderr);
    const sets: { causes: string[]; pages: number }[] = JSON.parse(r.stdout).children[0].causeSets;
    const swept = sets.filter((s) => s.causes.includes('gc.sweep'));
    const pages = (list: typeof sets) => list.reduce((n, s) => n + s.pages, 0);
    const sweep = pages(swept);
    assert.ok(sweep >= Math.ceil((40_000 * 40) / 4096), `the garbage's pages swept: ${sweep}`);
    const capture = loadCapture(save);
    assert.equal(changesInFreedSlots(capture), [], 'words of slots the child freed blamed an object or mutation cause');
    if (modelled(version).length) {
      const young = youngPagesBeside(capture, T_OBJECT);
      const aged = sweptAndAgedHeapPages(capture);
      const unexplained = aged.filter((page) => !young.has(page));
      assert.equal(unexplained.map((page) => (page * capture.meta.pageSize).toString(16)), [], `swept GC heap pages aged with no young object but the garbage at the fork (${aged.length} swept and aged of ${sweep} swept; ${young.size} OS pages hold such objects)`);
    }
  });

/** OS pages (address / page size) of the young objects of the fork-time heap map other than those of type
 *  garbageType. */
function youngPagesBeside(capture: Capture, garbageType: number): Set<number> {
  const o = capture.ruby!.objects;
  const pages = new Set<number>();
  for (let i = 0; i < o.address.length; i++)
    if (o.type[i] !== 0 && o.type[i] !== garbageType && !(o.gcFlags[i] & GC_FLAG_OLD)) pages.add(Math.floor(o.address[i] / capture.meta.pageSize));
  return pages;
}

/** The cause of every changed word of the capture's child, by address: the blame run again page by page. */
function wordCausesOf(capture: Capture): Map<number, string> {
  const diffs = capture.diffs![0];
  const blamer = adapterOf(capture)!.blamer(capture, diffs, capture.run!.gcRuns[0] ?? 0);
  const out = new Map<number, string>();
  const causes: string[] = [];
  for (let p = 0, w = 0; p < diffs.addrs.length; p++) {
    const first = w;
    while (w < diffs.wordPage.length && diffs.wordPage[w] === p) w++;
    if (diffs.status[p] !== 1) continue;
    blamer.changedWords(p, first, w, causes, null);
    for (let k = first; k < w; k++) out.set(diffs.addrs[p] + diffs.wordOffset[k], causes[k - first]);
  }
  return out;
}

/** Words on GC heap pages, in slots the child freed (their flags word now 0), that the blame gives an object
 *  or mutation cause, as hex addresses: the blame run again on the saved capture, page by page. */
function changesInFreedSlots(capture: Capture): string[] {
  const diffs = capture.diffs![0];
  const blamer = adapterOf(capture)!.blamer(capture, diffs, capture.run!.gcRuns[0] ?? 0);
  const { bodies, heapPageSize } = capture.heapMap!;
  const addrOf = (k: number) => diffs.addrs[diffs.wordPage[k]] + diffs.wordOffset[k];
  // words the child set to 0; a slot is freed when its flags word is one
  const zeroed = new Set<number>();
  for (let k = 0; k < diffs.wordPage.length; k++) if (diffs.newWord[k] === 0n) zeroed.add(addrOf(k));
  const found: string[] = [];
  let w = 0;
  for (let p = 0; p < diffs.addrs.length; p++) {
    const first = w;
    while (w < diffs.wordPage.length && diffs.wordPage[w] === p) w++;
    const body = lastAtOrBelow(bodies, diffs.addrs[p]);
    if (diffs.status[p] !== 1 || body < 0 || diffs.addrs[p] >= bodies[body] + heapPageSize) continue;
    // the words' causes and owners (on a GC heap page, the slot that holds the word)
    const causes: string[] = [];
    const slots: number[] = [];
    blamer.changedWords(p, first, w, causes, slots);
    for (let i = 0; i < w - first; i++) if (zeroed.has(slots[i]) && /^(object|mutation)\./.test(causes[i])) found.push(addrOf(first + i).toString(16));
  }
  return found;
}

/** GC heap OS pages of the child whose causes (all of them: the words' and those silentCauses adds)
 *  include both gc.sweep and gc.age: the blame run again on the saved capture, each page's causes taken
 *  where the engine hands them to the blamer. */
function sweptAndAgedHeapPages(capture: Capture): number[] {
  const diffs = capture.diffs![0];
  const blamer = adapterOf(capture)!.blamer(capture, diffs, capture.run!.gcRuns[0] ?? 0);
  const silent = blamer.silentCauses.bind(blamer);
  const found: number[] = [];
  const { bodies, heapPageSize } = capture.heapMap!;
  blamer.silentCauses = (p, causes) => {
    const more = silent(p, causes);
    const all = [...causes, ...more];
    const addr = diffs.addrs[p];
    const body = lastAtOrBelow(bodies, addr);
    if (all.includes('gc.sweep') && all.includes('gc.age') && body >= 0 && addr < bodies[body] + heapPageSize) found.push(Math.floor(addr / capture.meta.pageSize));
    return more;
  };
  blameWith(blamer, diffs, capture.meta.pageSize);
  return found;
}

// The blame behind gc_refill_garbage's prediction, on every Ruby: the 40,000 Arrays the child makes in the
// slots its GC freed (of 40-byte Arrays, 391 OS pages at least) are the allocation's, not a mutation of
// the Arrays that were there. Before, 770 of those pages counted mutation.array words.
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} gc_refill_garbage: slots refilled with objects of the same type are the allocation's (alloc.swept-slot, no mutation)`, () => {
    const r = runCowscope(['run', '--json', '--no-aslr', '--children', '1', '--', ruby, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'gc_refill_garbage' });
    assert.is(r.status, 0, r.stderr);
    const sets: { causes: string[]; pages: number }[] = JSON.parse(r.stdout).children[0].causeSets;
    const pages = (list: typeof sets) => list.reduce((n, s) => n + s.pages, 0);
    const refilled = sets.filter((s) => s.causes.includes('alloc.swept-slot'));
    assert.ok(pages(refilled) >= Math.ceil((40_000 * 40) / 4096), `pages of refilled slots: ${pages(refilled)}`);
    const mutated = pages(refilled.filter((s) => s.causes.some((c) => /^(object|mutation)\./.test(c))));
    assert.ok(mutated <= 0.01 * pages(refilled), `refilled pages with an object or mutation cause: ${mutated} of ${pages(refilled)}`);
  });

// The refill behind gc_cold_garbage's prediction, on every Ruby: its child's 4,000 call caches outgrow the
// fork-time free slots before its GC, and Ruby puts them in new heap pages (the room its last GC left)
// rather than collect. After a GC before the fork they fill the slots that GC freed instead: the pages the
// none child's blame says a GC step's removal of gc.sweep refills are pages the gc child writes by
// filling free slots. Measured (single runs, pages with an alloc.free-slot word, none -> gc, against the
// refill predicted): 4 -> 76 against 81 (3.1.2), 16 -> 71 against 64 (3.3.8), 28 -> 65 against 64
// (3.4.5: its second new heap page half used). Those new objects are the call caches, blamed
// icache.new-slot since it was told apart (a prewarm removes it too): the pages with either word count.
for (const { ruby, version } of testRubies())
  test(`Ruby ${version} gc_cold_garbage: a GC before the fork makes the child refill the slots it freed, as many pages as predicted`, () => {
    const child = (strategy: string) => {
      const r = runCowscope(['run', '--json', '--no-aslr', '--children', '1', '--strategy', strategy, '--', ruby, path.join(RUBY_FIXTURES, 'causes.rb')], { COWSCOPE_CAUSE: 'gc_cold_garbage' });
      assert.is(r.status, 0, r.stderr);
      return JSON.parse(r.stdout).children[0] as { causeSets: { causes: string[]; pages: number }[]; effects: { step: string; refilled?: { pages: number } }[] };
    };
    const none = child('none');
    const gc = child('gc');
    const filled = (c: typeof none) => c.causeSets.filter((s) => s.causes.some((id) => id === 'alloc.free-slot' || id === 'icache.new-slot')).reduce((n, s) => n + s.pages, 0);
    const predicted = none.effects.find((e) => e.step === 'gc' && e.refilled)?.refilled?.pages ?? 0;
    const measured = filled(gc) - filled(none);
    assert.ok(predicted > 0, 'a refill predicted for gc');
    assert.ok(measured >= 0.5 * predicted && measured <= 1.25 * predicted, `pages of free slots the gc child filled beyond none's: ${measured}, predicted ${predicted}`);
  });

test.run();
