// cowscope run with CPython: the interpreter is recognised, the fork point and the workload behave as
// for Ruby (end of the main script or cowscope.fork_point(); --workload FILE.py in the program's
// __main__ namespace, or the cowscope.workload function), the strategies do what they say, failures are
// one line naming the fix, and every process and temporary folder is cleaned up.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pythonArgs, PYTHON_AGENT_DIR } from '../runtimes/ruby/driver';
import { leftoverRunDirs, runCowscope, tempDir } from './helpers/ruby';
import { PYTHON_FIXTURES, everyPython, olderPython, pagesOf, pythonFixtureProcesses, testPythons } from './helpers/python';
import { CLI, isRoot } from './helpers/family';
import { assertRequestCurve } from './helpers/request-curve';
import { loadCapture } from '../native/capture-file';
import { PYTHON_STRATEGY_STEPS } from '../runtimes/python/layouts';
import { STRATEGY_STEPS } from '../cli/commands/run';
import { causeFix } from '../blame/catalog';

const fixture = (name: string) => path.join(PYTHON_FIXTURES, name);
const tmp = tempDir('pyrun');
test.after(() => tmp.remove());
test.after.each(() => {
  assert.equal(pythonFixtureProcesses(), [], 'no Python process left behind');
  assert.equal(leftoverRunDirs(), [], 'no temporary folder left behind');
});

const PYTHONS = testPythons();
const DEBIAN = PYTHONS.find((p) => p.python === '/usr/bin/python3');

test('the command line: interpreter options first, then the bootstrap, the script and its arguments', () => {
  const args = pythonArgs(['-X', 'dev', '-B', 'app.py', '-v', 'x']);
  assert.equal(args.slice(0, 4), ['-X', 'dev', '-B', '-c']);
  assert.ok(args[4].includes(JSON.stringify(PYTHON_AGENT_DIR)) && args[4].endsWith('cowscope.run_main()'), args[4]);
  assert.equal(args.slice(5), ['app.py', '-v', 'x']);
  assert.equal(pythonArgs(['--', 'app.py']).slice(-1), ['app.py']);
});

test('cowscope run -- python3 app.py: a Python run, two children, blame adding up', () => {
  const r = runCowscope(['run', '--json', '--', 'python3', fixture('hello.py')]);
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stderr, /does not exist/);
  const report = JSON.parse(r.stdout);
  assert.is(report.schema, 'cowscope.run/1');
  assert.is(report.runtime.name, 'python');
  assert.match(report.runtime.version, /^3\.\d+\.\d+$/);
  assert.is(report.children.length, 2);
  assert.is(report.workload, 'the cowscope.workload function of the program');
  assert.not.match(r.stderr, /registered no workload/);
  assert.match(r.stderr, /child total 199990000/); // the workload ran, its output went to stderr
  for (const child of report.children) {
    assert.ok(child.pages.copied > 0);
    assert.is(child.blame.reduce((n: number, b: { pages: number }) => n + b.pages, 0), child.pages.copied);
  }
});

test("the program's output passes through, each line once, with stdout block-buffered (PYTHONUNBUFFERED unset)", () => {
  const r = runCowscope(['run', '--json', '--children', '3', '--', 'python3', fixture('prints.py')], { PYTHONUNBUFFERED: '' });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(r.stderr.match(/^booted$/gm), ['booted'], r.stderr);
  const lines = [...r.stderr.matchAll(/^workload of (\d+) read 1000 rows$/gm)].map((m) => Number(m[1]));
  assert.equal(lines.sort(), report.children.map((c: { pid: number }) => c.pid).sort(), r.stderr);
});

test('interpreter options and program arguments reach the program; the script runs as __main__', () => {
  const out = path.join(tmp.dir, 'args.json');
  const python = DEBIAN?.python ?? 'python3';
  const r = runCowscope(['run', '--json', '--children', '1', '--', python, '-B', fixture('args.py'), 'one', '--two'], { COWSCOPE_FIXTURE_OUT: out });
  assert.is(r.status, 0, r.stderr);
  const seen = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(seen.argv, [fixture('args.py'), 'one', '--two']);
  assert.is(seen.dontWriteBytecode, 1);
  assert.is(seen.name, '__main__');
  assert.is(seen.path0, PYTHON_FIXTURES);
});

test('--python PATH, and a .py script alone, pick the Python runtime', () => {
  if (!DEBIAN) {
    console.log('note: no /usr/bin/python3: --python test skipped');
    return;
  }
  const r = runCowscope(['run', '--json', '--children', '1', '--python', DEBIAN.python, fixture('hello.py')]);
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).runtime.version, DEBIAN.version);
  const plain = runCowscope(['run', '--json', '--children', '1', fixture('hello.py')]);
  assert.is(plain.status, 0, plain.stderr);
  assert.is(JSON.parse(plain.stdout).runtime.name, 'python');
});

test('cowscope.fork_point() with a --workload file run in the program\'s __main__ namespace', () => {
  const out = path.join(tmp.dir, 'touch.txt');
  const r = runCowscope(['run', '--json', '--children', '3', '--workload', fixture('workload_touch.py'), fixture('fork_point.py')], { COWSCOPE_FIXTURE_OUT: out });
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stderr, /ran past the fork point/);
  const report = JSON.parse(r.stdout);
  assert.is(report.workload, 'load workload_touch.py');
  const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(' '));
  assert.equal(lines.map((l) => Number(l[0])).sort(), report.children.map((c: { pid: number }) => c.pid).sort());
  for (const l of lines) assert.equal(l.slice(1), ['__main__', '5000']);
  // 5000 lists appended to: their headers (py.mutation.list) are the first cause of every child
  for (const child of report.children) assert.is(child.blame[0].cause, 'py.mutation.list', JSON.stringify(child.blame.slice(0, 3)));
});

test('strategy freeze: a full collection in the child no longer copies the preloaded objects', () => {
  const none = runCowscope(['run', '--json', '--children', '1', fixture('causes.py')], { COWSCOPE_CAUSE: 'gc' });
  const frozen = runCowscope(['run', '--json', '--children', '1', '--strategy', 'freeze', fixture('causes.py')], { COWSCOPE_CAUSE: 'gc' });
  assert.is(none.status, 0, none.stderr);
  assert.is(frozen.status, 0, frozen.stderr);
  const a = JSON.parse(none.stdout);
  const b = JSON.parse(frozen.stdout);
  assert.is(b.strategy.name, 'freeze');
  assert.is(b.children[0].gcRuns, 1, 'the child still collected');
  // gc.collect() collects the oldest generation: a full collection, counted by the agent's callback
  for (const child of [a.children[0], b.children[0]]) assert.equal([child.gcRuns, child.gcFullRuns], [1, 1]);
  const gcNone = pagesOf(a.children[0].blame, /^py\.gc\./);
  const gcFrozen = pagesOf(b.children[0].blame, /^py\.gc\./);
  assert.ok(gcNone > 2000, `without freeze: ${gcNone} py.gc pages`);
  assert.ok(gcFrozen < 0.02 * gcNone, `with freeze: ${gcFrozen} py.gc pages against ${gcNone}`);
  // the map child unfroze before walking: the map is as complete as without freeze
  assert.ok(b.heapMap.objects >= 0.99 * a.heapMap.objects, `${b.heapMap.objects} objects mapped, ${a.heapMap.objects} without freeze`);
  assert.ok(b.notes.some((n: string) => /objects were frozen \(gc\.freeze\) at the fork/.test(n)), JSON.stringify(b.notes));
  // the prediction named freeze for the gc pages: at least every page only the collector wrote (a page a
  // collection and an allocation both wrote stays copied under freeze: one or two such pages a run)
  const gcOnly = a.children[0].causeSets
    .filter((x: { causes: string[] }) => x.causes.every((c) => /^py\.gc\./.test(c)))
    .reduce((n: number, x: { pages: number }) => n + x.pages, 0);
  assert.ok(gcOnly >= 0.99 * gcNone, `${gcOnly} of ${gcNone} py.gc pages written by the collector alone`);
  assert.ok(a.children[0].remedies.some((x: { strategy: string; pages: number }) => x.strategy === 'freeze' && x.pages >= gcOnly), JSON.stringify(a.children[0].remedies));
});

test('strategy disable: no automatic collection in the children; gc and + compose', () => {
  const none = runCowscope(['run', '--json', '--children', '1', fixture('allocate.py')]);
  const off = runCowscope(['run', '--json', '--children', '1', '--strategy', 'gc+disable', fixture('allocate.py')]);
  assert.is(none.status, 0, none.stderr);
  assert.is(off.status, 0, off.stderr);
  assert.ok(JSON.parse(none.stdout).children[0].gcRuns > 0, 'tracked allocations trigger collections');
  const b = JSON.parse(off.stdout);
  assert.is(b.strategy.label, 'gc+disable');
  assert.is(b.children[0].gcRuns, 0);
});

test('compare --strategies none,freeze: the predicted saving of freeze is the measured one', () => {
  const r = runCowscope(['compare', '--json', '--repeat', '1', '--children', '1', '--strategies', 'none,freeze', fixture('causes.py')], { COWSCOPE_CAUSE: 'gc' });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.runtime.name, 'python');
  const freeze = report.strategies.find((s: { name: string }) => s.name === 'freeze');
  assert.ok(freeze.savedPercent >= 90, `freeze saved ${freeze.savedPercent}%`);
  const off = Math.abs(freeze.predictedSavedPerChild - freeze.savedPerChild) / freeze.savedPerChild;
  assert.ok(off <= 0.05, `predicted ${freeze.predictedSavedPerChild} against measured ${freeze.savedPerChild} bytes`);
});

test('run --wsgi: copied pages against requests served, exact on a buffer each request copies one page of', () => {
  if (!isRoot()) assert.unreachable('fault tracing needs root here (CI runs as root)');
  const save = path.join(tmp.dir, 'pages.cow');
  const out = path.join(tmp.dir, 'buffer.txt');
  const requests = 40;
  const r = spawnSync(process.execPath, [CLI, 'run', '--json', '--save', save, '--wsgi', 'pages_app:application', '--request', 'GET /', '--requests', String(requests), '--', PYTHONS[0].python], {
    encoding: 'utf8',
    timeout: 120_000,
    cwd: PYTHON_FIXTURES,
    env: { ...process.env, COWSCOPE_FIXTURE_OUT: out },
  });
  assert.is(r.status, 0, r.stderr);
  assertRequestCurve(loadCapture(save), JSON.parse(r.stdout).children, out, requests);
});

test('a CPython older than the version table (3.10, 3.9 or 3.8): the run works with the version-independent rules and says so', () => {
  const python = olderPython();
  if (!python) assert.unreachable('no CPython 3.8-3.10 under ~/.pyenv/versions or /opt/pythons (the machine image has them)');
  // before: the heap-map walk read code-object fields of 3.11 (co_qualname), and the run ended in "heap
  // map child failed (wait status 256)"
  const r = runCowscope(['run', '--json', '--children', '1', '--', python!, fixture('hello.py')]);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.match(report.runtime.version, /^3\.(8|9|10)\./);
  assert.ok(report.notes.some((n: string) => /is not in cowscope's version table .* version-independent rules only/.test(n)), JSON.stringify(report.notes));
  const child = report.children[0];
  assert.ok(child.pages.copied > 0);
  assert.is(pagesOf(child.blame, /./), child.pages.copied, 'blame adds up');
  assert.ok(pagesOf(child.blame, /^py\.refcount$/) > 0, JSON.stringify(child.blame));
});

test("the heap map's walk classifies objects by their type alone, on every Python 3.8 to 3.13: a dead weakref proxy, a lazy __class__, list[int]", () => {
  // before: isinstance() asked each object for __class__: the dead proxy raised ReferenceError in the
  // walk and the run ended in "heap map child failed (wait status 256)"; the lazy objects were set up
  for (const python of everyPython()) {
    const out = path.join(tmp.dir, 'walk-safe.txt');
    fs.rmSync(out, { force: true });
    const r = runCowscope(['run', '--json', '--children', '1', '--', python, fixture('walk_safe.py')], { COWSCOPE_FIXTURE_OUT: out });
    assert.is(r.status, 0, `${python}: ${r.stderr}`);
    assert.match(r.stderr, /^workload ran$/m, python);
    assert.not.ok(fs.existsSync(out), `${python}: the walk ran the program's code: ${fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : ''}`);
    const child = JSON.parse(r.stdout).children[0];
    assert.is(pagesOf(child.blame, /./), child.pages.copied, `${python}: blame adds up`);
  }
});

test("a heap-map child that fails is reported in one line: its exception, or the signal that killed it", () => {
  // before: "the program raised RuntimeError: heap map child failed (wait status 256)" (or 25), after the
  // agent's traceback
  const python = DEBIAN?.python ?? 'python3';
  const failed = runCowscope(['run', '--children', '1', '--', python, fixture('map_fails.py')]);
  assert.is(failed.status, 2, failed.stderr);
  assert.match(failed.stderr, /^cowscope: the program raised HeapMapError: the heap map's walk failed: OSError: \[Errno 27\] File too large \(\/\S+\/runtimes\/python\/agent\/cowscope\.py:\d+\)\n$/);
  const killed = runCowscope(['run', '--children', '1', '--', python, fixture('map_fails.py')], { COWSCOPE_FIXTURE_XFSZ: 'default' });
  assert.is(killed.status, 2, killed.stderr);
  assert.is(killed.stderr, "cowscope: the program raised HeapMapError: the heap map's walk failed: killed by SIGXFSZ\n");
});

test('a program that forks processes of its own before the fork point, and a workload that forks: they end their own ways, the run goes on', () => {
  // before: a worker's sys.exit or raise was taken for the program's ("the program called exit"), and a
  // grandchild's for the child's ("process N raised SystemExit")
  const r = runCowscope(['run', '--json', '--children', '2', '--', '/usr/bin/python3', fixture('prefork.py')]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /^workers ended: 3 1 -15$/m);
  assert.match(r.stderr, /^helper \d+ ran to the end of the script$/m);
  assert.is((r.stderr.match(/^ValueError: grandchild crashed$/gm) ?? []).length, 2, 'each child\'s grandchild printed its traceback, as Python does');
  assert.is(JSON.parse(r.stdout).children.length, 2);
});

test('a Python the agent does not run on (2.7, 3.6, 3.7): one line naming the version and the fix, exit 2', () => {
  const python = olderPython(['3.7', '3.6', '2.7']);
  if (!python) assert.unreachable('no CPython 2.7, 3.6 or 3.7 under ~/.pyenv/versions or /opt/pythons (the machine image has them)');
  // before: 3.7 ended in "heap map child failed", 3.6 in an AttributeError and 2.7 in a SyntaxError of the agent
  const r = runCowscope(['run', '--children', '1', '--', python!, fixture('hello.py')]);
  assert.is(r.status, 2, r.stderr);
  // one line: the bootstrap tells cowscope on the control channel, not on the program's stderr
  assert.match(r.stderr, /^cowscope: cowscope runs CPython 3\.8 or newer, and .* is (2\.7|3\.6|3\.7)\.\d+: give another interpreter[^\n]*\n$/);
});

test('the predicted savings of a Python run name only the Python agent\'s strategy steps (exec.lazy-bind\'s remedy is Ruby\'s prewarm)', () => {
  const r = runCowscope(['run', '--json', '--children', '1', '--', '/usr/bin/python3', fixture('lazy_bind.py')]);
  assert.is(r.status, 0, r.stderr);
  const child = JSON.parse(r.stdout).children[0];
  const lazy = child.blame.find((b: { cause: string }) => b.cause === 'exec.lazy-bind')?.pages ?? 0;
  assert.ok(lazy >= 1, `the GOT page is copied: ${JSON.stringify(child.blame)}`);
  for (const x of child.remedies) assert.ok(PYTHON_STRATEGY_STEPS.includes(x.strategy), `${x.strategy} is no Python strategy step`);
});

test("a Python run's text and HTML reports name no Ruby-only strategy step: what would help, and each cause's fix", () => {
  const rubyOnly = STRATEGY_STEPS.filter((s) => !PYTHON_STRATEGY_STEPS.includes(s));
  assert.ok(rubyOnly.includes('prewarm') && rubyOnly.includes('warmup') && !rubyOnly.includes('trim'), rubyOnly.join(','));
  const step = new RegExp(`(?<![\\w-])(${rubyOnly.join('|')})(?![\\w-])`); // a step's name as a word (not malloc_trim)
  assert.match('the warmup step', step);
  // the catalog: alloc.malloc's fix names the trim step, which both agents have (and no Ruby-only one)
  assert.is(causeFix('alloc.malloc', PYTHON_STRATEGY_STEPS), 'malloc_trim before forking releases the whole pages inside free chunks, so allocations there land on new pages: the trim step calls it, and blame counts those pages as saved by the steps that do');
  assert.not.match(causeFix('alloc.malloc'), step);
  // before: the HTML said "fix: malloc_trim before forking (trim, warmup) releases ..." for a Python run's
  // alloc.malloc and malloc.meta, steps `run --strategy` refuses for Python
  const cases: { program: string; env: NodeJS.ProcessEnv; causes: string[] }[] = [
    { program: fixture('lazy_bind.py'), env: {}, causes: ['exec.lazy-bind'] }, // remedy: prewarm
    { program: fixture('causes.py'), env: { COWSCOPE_CAUSE: 'alloc' }, causes: ['alloc.malloc'] }, // fix: trim, warmup
  ];
  for (const c of cases) {
    const html = path.join(tmp.dir, 'steps.html');
    const r = runCowscope(['run', '--children', '1', '--html', html, '--', '/usr/bin/python3', c.program], c.env);
    assert.is(r.status, 0, r.stderr);
    const help = /^What would help[^]*?(?=^Details$)/m.exec(r.stdout)?.[0];
    assert.ok(help, r.stdout);
    assert.not.match(help!, step, help);
    const page = fs.readFileSync(html, 'utf8');
    for (const cause of c.causes) assert.ok(page.includes(`<div class="bar" data-cause="${cause}">`), `${cause} is among the causes of ${c.program}`);
    const fixes = [...page.matchAll(/<span class="fix">fix: ([^<]*)<\/span>/g)].map((m) => m[1]);
    assert.ok(fixes.length >= c.causes.length, page);
    for (const fix of fixes) assert.not.match(fix, step, fix);
    assert.not.match(/<section id="help">[^]*?<\/section>/.exec(page)?.[0] ?? '', step);
  }
});

test('a program that registers no workload before the fork point (or one after it): a warning, a note, the workload says none', () => {
  for (const late of ['', '1']) {
    const r = runCowscope(['run', '--json', '--children', '1', '--', 'python3', fixture('no_workload.py')], { COWSCOPE_FIXTURE_LATE: late });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /^cowscope: warning: the program registered no workload before the fork point: the children run nothing \(call cowscope\.workload\(fn\) before cowscope\.fork_point\(\)/m);
    const report = JSON.parse(r.stdout);
    assert.is(report.workload, 'none: the program registered no workload before the fork point');
    assert.ok(report.notes.some((n: string) => /^the children ran no workload/.test(n)), JSON.stringify(report.notes));
  }
});

test('a workload that does not finish: --timeout reports the child and everything is killed and reaped', () => {
  const r = runCowscope(['run', '--children', '1', '--timeout', '2', fixture('hang.py')]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /child \d+ did not finish the workload within 2 s: state S[^\n]*; raise --timeout/);
  assert.not.match(r.stderr, /\\x0a/, 'one line: no escaped line break');
});

const FAILURES: { name: string; args: string[]; message: RegExp; programRan?: true }[] = [
  { name: 'an exception before the fork point', args: [fixture('raise.py')], message: /^cowscope: the program raised ValueError: boom before the fork \(.*raise\.py:1\)$/m, programRan: true },
  // (QA: it named the agent's compile, cowscope.py:260)
  { name: 'a syntax error', args: [fixture('syntax_error.py')], message: /^cowscope: the program raised SyntaxError: .* \(\S+\/syntax_error\.py:2\)$/m, programRan: true },
  { name: 'sys.exit before the fork point', args: [fixture('exit.py')], message: /^cowscope: the program called exit \(status 3\) before the fork point at .*exit\.py:2: .*call cowscope\.fork_point\(\) before it$/m, programRan: true },
  { name: 'a missing script', args: ['--', 'python3', 'nowhere.py'], message: /^cowscope: the program nowhere\.py does not exist: check the path$/m },
  { name: 'a Ruby strategy step', args: ['--strategy', 'gc+compact', fixture('hello.py')], message: /unknown strategy step "compact" for a Python program .*use none, gc, freeze, disable, trim/ },
  // Ruby's step options: refused in a Python program's words, not "add the prewarm step" (which Python has not)
  { name: '--prewarm with Python', args: ['--prewarm', '3', fixture('hello.py')], message: /^cowscope: --prewarm goes with the prewarm step, which Ruby programs have: a Python program's steps are none, gc, freeze, disable, trim$/m },
  { name: '--before-fork with Python', args: ['--strategy', 'gc', '--before-fork', fixture('hello.py'), fixture('hello.py')], message: /^cowscope: --before-fork goes with the custom step, which Ruby programs have: a Python program's steps are none, gc, freeze, disable, trim$/m },
  { name: 'no interpreter there', args: ['--python', path.join(tmp.dir, 'python9'), fixture('hello.py')], message: /^cowscope: no Python at .*python9: check --python$/m },
  { name: '--rack with Python', args: ['--rack', 'config.ru', '--', 'python3', fixture('hello.py')], message: /^cowscope: --rack config\.ru is for Ruby apps: a Python WSGI app goes with --wsgi module:app$/m },
  { name: '--wsgi with Ruby', args: ['--wsgi', 'app:application', '--', 'ruby', fixture('hello.py')], message: /^cowscope: --wsgi module:app is for Python apps: a Ruby \(Rack\) app goes with --rack config\.ru$/m },
  { name: '-c instead of a script', args: ['--', 'python3', '-c', 'print(1)'], message: /give the Python script to run .* or a WSGI app \(--wsgi module:app\)/ },
  { name: '--wsgi and a script', args: ['--wsgi', 'app:application', '--', 'python3', fixture('hello.py')], message: /^cowscope: give either a Python script or --wsgi app:application, not both$/m },
  { name: '--wsgi that is not module:app', args: ['--wsgi', 'my app', '--', 'python3'], message: /^cowscope: --wsgi my app is not module:app: write e\.g\. --wsgi mysite\.wsgi:application$/m },
  { name: '--wsgi of a file', args: ['--wsgi', 'mysite/wsgi.py', '--', 'python3'], message: /^cowscope: --wsgi mysite\/wsgi\.py names a file: give the module, as gunicorn takes it \(--wsgi mysite\.wsgi:application\)$/m },
  // the app is imported in the parent before the fork: a module or callable that is not there stops the
  // run there, in cowscope's words (what was looked for where, and the fix), without a traceback
  { name: '--wsgi of a module that is not there', args: ['--wsgi', 'no_such_module_xyz:application', '--', 'python3'], message: /^cowscope: --wsgi no_such_module_xyz:application: no module no_such_module_xyz in \S+, the working folder the app is imported from \(as gunicorn does\)$/m },
  { name: '--wsgi of a name the module does not have', args: ['--wsgi', 'json:application', '--', 'python3'], message: /^cowscope: --wsgi json:application: module json \(\S+\/json\/__init__\.py\) has no application: name its WSGI callable, as gunicorn takes it \(json:application\)$/m },
  { name: '--wsgi of something not callable', args: ['--wsgi', 'json:__name__', '--', 'python3'], message: /^cowscope: --wsgi json:__name__: a str, not a WSGI callable: name the app object \(gunicorn's module:app\)$/m },
  // what would be ignored is refused: a workload file replaces the requests (the report said they ran),
  // and --requests without an app to send them to did nothing
  { name: '--wsgi with --workload', args: ['--wsgi', 'app:application', '--workload', fixture('hello.py'), '--', 'python3'], message: /^cowscope: --workload runs a file in the children instead of the requests of --wsgi: give one or the other$/m },
  { name: '--requests without an app', args: ['--requests', '5', fixture('hello.py')], message: /^cowscope: --requests goes with --rack config\.ru \(Ruby\) or --wsgi module:app \(Python\): a program's children run its workload once$/m },
  // a workload no child could run is refused where the program registers it, pointing at that line
  { name: 'cowscope.workload(42)', args: [fixture('workload_not_callable.py')], message: /^cowscope: the program raised TypeError: cowscope\.workload takes the function each child runs, not int 42 \(\S+\/workload_not_callable\.py:4\)$/m, programRan: true },
  { name: 'a workload that needs arguments', args: [fixture('workload_args.py')], message: /^cowscope: the program raised TypeError: cowscope\.workload: each child calls work\(\) with no arguments: missing a required argument: 'request' \(\S+\/workload_args\.py:6\)$/m, programRan: true },
];

test('without cowscope, cowscope.workload only registers: the programs it refuses under cowscope run as they are', () => {
  for (const name of ['workload_not_callable.py', 'workload_args.py']) {
    const r = spawnSync('python3', [fixture(name)], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: PYTHON_AGENT_DIR }, timeout: 20_000 });
    assert.is(r.status, 0, `${name}: ${r.stderr}`);
  }
});

for (const f of FAILURES)
  test(`${f.name}: one line naming the fix, exit 2`, () => {
    const r = runCowscope(['run', ...f.args]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, f.message);
    // one line of cowscope's; nothing else unless the program itself ran and wrote to stderr (its
    // traceback): a failed --wsgi import is reported without one
    assert.is(r.stderr.split('\n').filter((l) => l.startsWith('cowscope:')).length, 1, r.stderr);
    if (!f.programRan) assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.is(r.stdout, '');
  });

test.run();
