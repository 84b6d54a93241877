// cowscope compare with CPython: every strategy of the Python agent (none, gc, freeze, gc+freeze,
// disable; trim, twice, on the fixture it is for) run three times, and the saving blame of the none runs predicted beside the saving measured.
// On the planted gc fixture and on a small Django shop (fixtures/python/django_app, Debian's
// python3-django, which is for Debian's /usr/bin/python3 only), the prediction is within 10% of none's
// copied bytes per child for every strategy (disable: its cost, from the blocks the children's
// collections freed and the free pymalloc blocks of the fork-time image). --no-aslr: the same address
// layout in every run, so runs differ by what the program does, not by where the kernel put it.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { CLI } from './helpers/family';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { predictionGap } from './helpers/compare';
import { leftoverRunDirs, runCowscope, tempDir } from './helpers/ruby';
import { loadCapture } from '../native/capture-file';
import { PYTHON_FIXTURES, pythonFixtureProcesses, testPythons } from './helpers/python';
import { faultTracingAvailability } from '../native/faults';

const PYTHON = '/usr/bin/python3';
const STRATEGIES = 'none,gc,freeze,gc+freeze,disable';

test.after.each(() => {
  assert.equal(pythonFixtureProcesses(), [], 'no Python process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

interface Strategy {
  name: string;
  copiedPerChild: { median: number };
  savedPerChild: number | null;
  predictedSavedPerChild: number | null;
  blame: { cause: string; pages: number }[];
}

function compare(script: string, env: NodeJS.ProcessEnv = {}, python = PYTHON, strategyList = STRATEGIES, repeat = 3): { strategies: Strategy[]; none: Strategy; by: (n: string) => Strategy; pages: (s: Strategy) => number; pageSize: number } {
  const r = runCowscope(['compare', '--json', '--no-aslr', '--repeat', String(repeat), '--strategies', strategyList, '--', python, script], env, 600_000);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.schema, 'cowscope.compare/1');
  assert.is(report.runtime.name, 'python');
  const strategies: Strategy[] = report.strategies;
  assert.equal(strategies.map((s) => s.name).sort(), strategyList.split(',').sort());
  const by = (n: string) => strategies.find((s) => s.name === n)!;
  return { strategies, none: by('none'), by, pages: (s) => s.copiedPerChild.median / report.pageSize, pageSize: report.pageSize };
}

/** |predicted - measured| as a share of none's copied bytes per child. */
const gap = predictionGap;
const pagesOf = (s: Strategy, cause: string) => s.blame.find((b) => b.cause === cause)?.pages ?? 0;

const haveDjango = spawnSync(PYTHON, ['-c', 'import django'], { encoding: 'utf8' }).status === 0;

test('the gc fixture: freeze saves the traversed pages as predicted; every strategy within 10%', () => {
  const { strategies, none, by, pages } = compare(path.join(PYTHON_FIXTURES, 'causes.py'), { COWSCOPE_CAUSE: 'gc' });
  for (const s of strategies) assert.ok(gap(s, none) <= 0.1, `${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  // the planted cause: a full collection in the child, which freeze removes and gc and disable do not
  // (the workload calls gc.collect() itself)
  assert.ok(pagesOf(none, 'py.gc.traverse') > 0.8 * pages(none));
  for (const n of ['freeze', 'gc+freeze']) {
    assert.is(pagesOf(by(n), 'py.gc.traverse'), 0, n);
    assert.ok(by(n).savedPerChild! > 0.9 * none.copiedPerChild.median, `${n} saves nearly all`);
  }
});

// fixtures/python/unlink_neighbors.py on Debian's 3.11: the GC links a freed neighbour's unlinking rewrote
// (py.gc.unlink, ~590 pages a child). A collection before the fork (gc, and freeze, whose step collects
// first) regroups the collector's list: the survivors go back in the order their containers' traversal
// finds them, the Xs together and the Ys together, so the child's unlinking no longer reaches the Ys, and
// both save those pages, on 3.11 as on 3.13. blame does not model the regrouping (predicted 0: printed).
// Measured without cowscope (a plain fork of the same program, the child's Private_Dirty growth): 5,808 kB
// with none, 3,476 kB after gc.collect() (3.11.2). Until session 67 cowscope compiled its agent in the
// program's process and measured no saving for either, which this test then held them to.
// (Before that: freeze predicted to save 590 pages, as py.gc.link, and measured 2.)
test('neighbours freed in the child: their GC links are py.gc.unlink, which a collection before the fork saves by regrouping the list (printed: not predicted)', () => {
  const { strategies, none } = compare(path.join(PYTHON_FIXTURES, 'unlink_neighbors.py'), {}, PYTHON, 'none,gc,freeze');
  const unlink = pagesOf(none, 'py.gc.unlink');
  assert.ok(unlink >= 580, JSON.stringify(none.blame.slice(0, 4)));
  for (const s of strategies.filter((x) => x.name !== 'none')) {
    process.stderr.write(`    [unlink_neighbors] ${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none's py.gc.unlink ${unlink} pages\n`);
    assert.ok(s.savedPerChild! >= 0.8 * unlink * 4096, `${s.name}: measured ${s.savedPerChild}, none's py.gc.unlink ${unlink} pages`);
  }
});

test('collections the collector starts itself: disable saves the pages they wrote, as predicted', () => {
  // The child only allocates; every collection in it is automatic (the agent counts gc.collect() calls
  // apart), so gc.disable() runs none of them.
  const { strategies, none, by, pages } = compare(path.join(PYTHON_FIXTURES, 'causes.py'), { COWSCOPE_CAUSE: 'gc_auto' });
  for (const s of strategies) assert.ok(gap(s, none) <= 0.1, `${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  assert.ok(pagesOf(none, 'py.gc.traverse') + pagesOf(none, 'py.gc.link') > 0.7 * pages(none), `the collections wrote most pages: ${JSON.stringify(none.blame.slice(0, 3))}`);
  for (const n of ['disable', 'freeze']) assert.ok(by(n).predictedSavedPerChild! > 0.7 * none.copiedPerChild.median, `${n} predicted to save most`);
});

// fixtures/python/free_other_class.py: the collections' garbage is 32-128-byte blocks, the free memory
// at the fork ~6,700 pages of 336-byte ones. disable's cost counts only the free pages of the classes the
// child allocates and of empty pools (before: every free page, 6,721 pages predicted, 25 saved: QA, 3.11).
test('garbage of other size classes than the free memory at the fork: disable costs next to nothing, as predicted', () => {
  const { none, by } = compare(path.join(PYTHON_FIXTURES, 'free_other_class.py'), {}, PYTHON, 'none,disable');
  const disable = by('disable');
  // the premise: disable keeps the garbage and the child is no bigger for it
  assert.ok(disable.savedPerChild! > -0.1 * none.copiedPerChild.median, `disable measured ${disable.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  // (the kept garbage's classes are taken from the blocks the child took at fork-time free memory: the
  // classes of the interpreter's own few allocations get a share too, 14 pages on 3.11.2)
  assert.ok(disable.predictedSavedPerChild! > -0.25 * none.copiedPerChild.median, `disable predicted ${disable.predictedSavedPerChild}, none copies ${none.copiedPerChild.median}`);
});

// fixtures/python/garbage_refill.py: 40,000 reference cycles garbage at the fork, a child that runs no
// collection and keeps 40,000 new lists and dicts. A collection before the fork frees the garbage's
// blocks in the parent and the child's objects fill them: gc and freeze cost the garbage's pages, which
// blame predicts from the garbage the map found and the blocks the child put in pools of its own
// (before: predicted to save nothing, measured 452 pages more a child on 3.11, QA).
test('garbage at the fork and a child that allocates: gc and freeze cost the pages its allocations fill, as predicted; every strategy within 10%', () => {
  const { strategies, none, by } = compare(path.join(PYTHON_FIXTURES, 'garbage_refill.py'), {}, PYTHON, 'none,gc,freeze,gc+freeze');
  for (const s of strategies) assert.ok(gap(s, none) <= 0.1, `${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  // the premise: the collection before the fork costs (the child's objects fill the freed blocks)
  for (const n of ['gc', 'freeze', 'gc+freeze']) assert.ok(by(n).savedPerChild! < -0.5 * none.copiedPerChild.median, `${n} measured ${by(n).savedPerChild}, none copies ${none.copiedPerChild.median}`);
});

// fixtures/python/garbage_cycles.py: 40,000 reference cycles dropped before the fork, freed by each
// child's gc.collect(). A collection before the fork (gc, freeze) frees them in the parent: blame names
// the frees py.gc.garbage and predicts that (before: gc predicted to save nothing, measured 3.0M less a
// child on 3.11; freeze 2.2M predicted, 5.1M measured).
test('garbage at the fork: gc and freeze save the pages the child freed it on, as predicted; every strategy within 10%', () => {
  const { strategies, none, by, pages, pageSize } = compare(path.join(PYTHON_FIXTURES, 'garbage_cycles.py'));
  for (const s of strategies) assert.ok(gap(s, none) <= 0.1, `${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  const garbage = pagesOf(none, 'py.gc.garbage');
  assert.ok(garbage > 0.2 * pages(none), `the frees wrote many pages: ${JSON.stringify(none.blame.slice(0, 4))}`);
  for (const n of ['gc', 'freeze']) {
    // (a few: the free lists the agent refills after the step, which the child's full collection empties
    // again: 4 pages seen)
    assert.ok(pagesOf(by(n), 'py.gc.garbage') <= 0.02 * garbage, `${n} left ${pagesOf(by(n), 'py.gc.garbage')} pages of py.gc.garbage`);
    assert.ok(by(n).savedPerChild! >= 0.8 * garbage * pageSize, `${n} saved ${by(n).savedPerChild} for ${garbage} pages of garbage`);
  }
});

// fixtures/python/collect_in_child.py: the child's full collection empties the free lists (38,000 dead
// tuples) and untracks 60,000 preloaded pairs; a collection before the fork (gc) does both in the parent.
// Those pages were py.obmalloc.free and py.gc.link, which gc does not remove: gc was predicted to save
// 8-37 pages a child where it saved 937-1,372 (QA, 3.11-3.13).
test('a full collection in the child: gc saves the free lists it emptied and the tuples it untracked, as predicted', () => {
  const { none, by, pages, pageSize } = compare(path.join(PYTHON_FIXTURES, 'collect_in_child.py'), {}, PYTHON, 'none,gc', 2);
  const planted = pagesOf(none, 'py.gc.garbage') + pagesOf(none, 'py.gc.untrack');
  assert.ok(planted > 0.6 * pages(none), `the collection's frees and untracking copied most pages: ${JSON.stringify(none.blame.slice(0, 4))}`);
  const gc = by('gc');
  assert.ok(gap(gc, none) <= 0.1, `gc: predicted ${gc.predictedSavedPerChild}, measured ${gc.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  assert.ok(gc.savedPerChild! >= 0.8 * planted * pageSize, `gc saved ${gc.savedPerChild} for ${planted} pages`);
  for (const c of ['py.gc.garbage', 'py.gc.untrack']) assert.ok(pagesOf(gc, c) <= 0.02 * planted, `gc left ${pagesOf(gc, c)} pages of ${c}`);
});

// fixtures/python/freed_blocks.py: 40,000 glibc blocks dropped at the end of the preload, left in glibc's
// unsorted bin; each child's mallocs sort them, a page copied per block (malloc.bin-sort). The trim step
// sorts them in the parent: it saves those pages, as predicted.
test('blocks freed just before the fork: trim sorts them in the parent and saves the pages blame named, as predicted', () => {
  const { none, by, pages, pageSize } = compare(path.join(PYTHON_FIXTURES, 'freed_blocks.py'), {}, PYTHON, 'none,trim', 2);
  const sorted = pagesOf(none, 'malloc.bin-sort');
  assert.ok(sorted > 0.5 * pages(none), `the sort copied most pages: ${JSON.stringify(none.blame.slice(0, 3))}`);
  const trim = by('trim');
  assert.ok(gap(trim, none) <= 0.1, `trim: predicted ${trim.predictedSavedPerChild}, measured ${trim.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  // (what the agent frees after the step, writing the heap map, a fork path may sort: a page or two)
  assert.ok(pagesOf(trim, 'malloc.bin-sort') <= 0.01 * sorted, `trim left ${pagesOf(trim, 'malloc.bin-sort')} pages of malloc.bin-sort`);
  assert.ok(trim.savedPerChild! >= 0.9 * sorted * pageSize, `trim saved ${trim.savedPerChild} for ${sorted} pages of malloc.bin-sort`);
});

// fixtures/python/young_collect.py: the child's collections are all young and visit the preloaded
// objects still young at the fork. A collection before the fork (gc) leaves them in the oldest
// generation: gc saves those pages as freeze does, and is predicted to (it was predicted to save nothing:
// a WSGI app of 80,000 preloaded instances measured 704K saved, 18% of none's copies, on 3.11). On 3.12
// where there is one (more of the objects are young at its fork: ~26% of none's copies), else Debian's.
const youngPython = testPythons().find((p) => p.version.startsWith('3.12.'))?.python ?? PYTHON;
test(`young collections only (${youngPython}): gc saves what they wrote, as predicted; every strategy within 10%`, () => {
  const { strategies, none, by, pages, pageSize } = compare(path.join(PYTHON_FIXTURES, 'young_collect.py'), {}, youngPython);
  for (const s of strategies) assert.ok(gap(s, none) <= 0.1, `${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  const collections = pagesOf(none, 'py.gc.traverse') + pagesOf(none, 'py.gc.link');
  assert.ok(collections > 0.05 * pages(none), `the young collections wrote pages: ${JSON.stringify(none.blame.slice(0, 4))}`);
  const gc = by('gc');
  assert.ok(gc.predictedSavedPerChild! >= 0.9 * collections * pageSize, `gc predicted ${gc.predictedSavedPerChild} for ${collections} pages of the collections`);
  assert.is(pagesOf(gc, 'py.gc.traverse'), 0, JSON.stringify(gc.blame.slice(0, 4)));
});

// The child reads 100,000 tracked lists (counts raised and dropped again), then collects over them: no
// byte changes, and the fault trace tells which of the two copied each page, by the first writer's name
// where the interpreter keeps its .symtab (pyenv's builds), else by its time against the child's
// collections (Debian's python3 has .dynsym only: the collector's and the eval loop's static functions
// go unnamed, unless its detached debug symbols are installed). A page the reads copied is copied with
// the collection frozen too.
const symtabPython = testPythons().find((p) => p.python !== PYTHON && /\.symtab\b/.test(spawnSync('readelf', ['-S', '--wide', fs.realpathSync(p.python)], { encoding: 'utf8' }).stdout ?? ''))?.python;
for (const [python, how] of [[PYTHON, 'by time where not named'], ...(symtabPython ? [[symtabPython, 'by name']] : [])] as [string, string][])
  test(`two causes on the same pages, reads then a collection (${python}, first writers ${how}): freeze saves only the pages the collection wrote first, as predicted`, () => {
    const tracing = faultTracingAvailability();
    if (!tracing.available) return void console.log(`    skipped: fault tracing unavailable (${tracing.why})`);
    const { strategies, none, by, pages } = compare(path.join(PYTHON_FIXTURES, 'causes.py'), { COWSCOPE_CAUSE: 'read_collect' }, python);
    for (const s of strategies) assert.ok(gap(s, none) <= 0.1, `${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none copies ${none.copiedPerChild.median}`);
    assert.ok(pagesOf(none, 'py.refcount') > 0.6 * pages(none), `reads copied most pages: ${JSON.stringify(none.blame.slice(0, 3))}`);
    assert.ok(by('freeze').savedPerChild! < 0.3 * none.copiedPerChild.median, `freeze saves the collection's pages only: ${by('freeze').savedPerChild}`);
  });

test('the Django shop: predicted vs measured within 10% for every strategy; disable costs what it keeps', () => {
  if (!haveDjango) {
    console.log(`note: ${PYTHON} cannot import django (apt-get install python3-django): the Django compare is skipped`);
    return;
  }
  const { strategies, none, by, pages } = compare(path.join(PYTHON_FIXTURES, 'django_app', 'serve.py'), { COWSCOPE_REQUESTS: '300' });
  for (const s of strategies) assert.ok(gap(s, none) <= 0.1, `${s.name}: predicted ${s.predictedSavedPerChild}, measured ${s.savedPerChild}, none copies ${none.copiedPerChild.median}`);
  // The children run young collections only (no full one in 300 requests): they visit no object of the
  // fork-time image but the few still young, so nothing is blamed on the traversal of preloaded objects.
  assert.ok(pagesOf(none, 'py.gc.traverse') < 0.02 * pages(none), `py.gc.traverse ${pagesOf(none, 'py.gc.traverse')}`);
  // gc.disable() keeps the request cycles alive in the children: their allocations spread into the free
  // blocks of shared pools. No cause of the none runs is one disable removes; the prediction is the
  // cost the agent's count of blocks freed by collections implies, negative as the measured saving is,
  // and the extra pages are blamed on py.obmalloc.alloc.
  const disable = by('disable');
  assert.ok(disable.predictedSavedPerChild! < 0, `disable predicted ${disable.predictedSavedPerChild}`);
  assert.ok(disable.savedPerChild! < 0, `disable measured ${disable.savedPerChild}`);
  assert.ok(pagesOf(disable, 'py.obmalloc.alloc') > pagesOf(none, 'py.obmalloc.alloc'));
});

test('the Django children run young collections only: the capture keeps it, report FILE blames the same', () => {
  if (!haveDjango) return;
  const tmp = tempDir('pydjango');
  try {
    const save = path.join(tmp.dir, 'django.cow');
    const r = runCowscope(['run', '--json', '--children', '1', '--save', save, '--', PYTHON, path.join(PYTHON_FIXTURES, 'django_app', 'serve.py')], { COWSCOPE_REQUESTS: '300' });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /served 300 requests/);
    const run = loadCapture(save).run!;
    assert.ok(run.gcRuns[0] > 0, `young collections ran: ${run.gcRuns}`);
    assert.equal(run.gcFullRuns, [0]);
    const offline = runCowscope(['report', '--json', save]);
    assert.is(offline.status, 0, offline.stderr);
    assert.is(offline.stdout, r.stdout);
  } finally {
    tmp.remove();
  }
});

/** cowscope run in the Django app's folder (--wsgi imports shopsite.wsgi from the working folder). */
function inDjangoApp(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600_000, cwd: path.join(PYTHON_FIXTURES, 'django_app') });
}

const DJANGO_REQUESTS = ['GET /', 'GET /products/17/', 'GET /category/garden/', 'GET /search?q=Product%2012', 'GET /api/products?limit=50', 'GET /about'];

test('run --wsgi: the Django app imported in the parent, the requests sent in each child through the WSGI callable', () => {
  if (!haveDjango) return;
  const r = inDjangoApp(['run', '--json', '--wsgi', 'shopsite.wsgi:application', ...DJANGO_REQUESTS.flatMap((q) => ['--request', q]), '--requests', '50', '--', PYTHON]);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.runtime.name, 'python');
  assert.is(report.workload, `50 x ${DJANGO_REQUESTS.join(', ')} through the WSGI callable (shopsite.wsgi:application)`);
  // every request answered 2xx/3xx in every child (the agent counts those only)
  assert.equal(report.children.map((c: { requests: number }) => c.requests), [300, 300]);
  const child = report.children[0];
  // the catalogue and Django's code were loaded before the fork: the requests read them (reference
  // counts) and run their code (specialization)
  assert.ok(pagesOf(child, 'py.refcount') > 0.2 * child.pages.copied, `py.refcount ${pagesOf(child, 'py.refcount')} of ${child.pages.copied}`);
  assert.ok(pagesOf(child, 'py.specialize.code') > 0, 'the views specialized in the child');
});

test('run --wsgi: a request the app answers 404 stops the run with one line, exit 2', () => {
  if (!haveDjango) return;
  const r = inDjangoApp(['run', '--wsgi', 'shopsite.wsgi:application', '--request', 'GET /no/such/page/', '--', PYTHON]);
  assert.is(r.status, 2, r.stderr);
  assert.is(r.stdout, '');
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('cowscope:'));
  assert.equal(ours.length, 1, r.stderr);
  assert.match(ours[0], /^cowscope: child \d+ raised RuntimeError: GET \/no\/such\/page\/ answered 404 Not Found /);
});

test('compare --wsgi: the strategies run on the WSGI app', () => {
  if (!haveDjango) return;
  const r = inDjangoApp(['compare', '--json', '--no-aslr', '--repeat', '1', '--strategies', 'none,freeze', '--wsgi', 'shopsite.wsgi:application', '--request', 'GET /', '--requests', '20', '--', PYTHON]);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.runtime.name, 'python');
  assert.equal(report.strategies.map((s: Strategy) => s.name).sort(), ['freeze', 'none']);
  for (const s of report.strategies as Strategy[]) assert.ok(s.copiedPerChild.median > 0, s.name);
});

test.run();
