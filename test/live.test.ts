// Live mode with Debian's real Unicorn (preload_app, 2 workers, loopback): the agent loaded through
// RUBYOPT leaves a heap map at the master's first fork; `cowscope inspect MASTER` blames each worker
// against the live master; --watch samples; Prometheus output parses. The server is stopped after.

import { type ChildProcess, spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statOf } from '../native/proc';
import { RUBY_FIXTURES, runCowscope, tempDir } from './helpers/ruby';
import { startAgentUnicorn, stopFamily } from './helpers/servers';
import { startJsonFamily } from './helpers/family';

const live = tempDir('live');
let server: ChildProcess | undefined;
let master = 0;
let workers: number[] = [];

test.before(async () => {
  ({ server, master, workers } = await startAgentUnicorn(live.dir));
});

let stopped = false;
test.after(async () => {
  if (!stopped) await stopFamily(master, 'SIGQUIT', server);
  live.remove();
});

test('inspect MASTER: master and workers, sharing, and a blame per worker that adds up to its copied pages', () => {
  assert.ok(fs.existsSync(path.join(live.dir, `${master}.heap.jsonl`)), 'the agent left the heap map of the master');
  const r = runCowscope(['inspect', String(master), '--json', '--heap-map-dir', live.dir]);
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.processes.map((p: { pid: number }) => p.pid).sort(), [master, ...workers].sort());
  assert.ok(report.notes.some((n: string) => /blame against the live master \(no twin/.test(n)));
  assert.is(report.sharing.length, 2);
  for (const s of report.sharing) {
    assert.is(s.parent, master);
    assert.ok(s.pages.copied > 0, `worker ${s.pid} copied pages`);
    const blamed = s.blame.reduce((n: number, b: { pages: number }) => n + b.pages, 0);
    assert.is(blamed, s.pages.copied, `worker ${s.pid}: blame adds up to its copied pages`);
    assert.ok(s.regions.some((g: { region: string }) => g.region === 'ruby-heap'), 'the GC heap is a region of its own');
  }
  const text = runCowscope(['inspect', String(master), '--heap-map-dir', live.dir]);
  assert.match(text.stdout, /Why child(ren)? [\d, ]+ (each )?copied \d+(–\d+)? pages \(against the live master\)/);
});

test('without --heap-map-dir, the map is found where the server\'s own environment put it ($COWSCOPE_LIVE_DIR of the master, not of cowscope)', () => {
  const r = runCowscope(['inspect', String(master), '--json'], { COWSCOPE_LIVE_DIR: '' });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.is(report.sharing.length, 2);
  for (const s of report.sharing) assert.is(s.blame.reduce((n: number, b: { pages: number }) => n + b.pages, 0), s.pages.copied, `worker ${s.pid} blamed`);
  assert.not.ok(report.notes.some((n: string) => /heap-map directory/.test(n)), JSON.stringify(report.notes));
});

test('--watch 1 --count 3 prints three samples and the curve, and exits 0', () => {
  const r = runCowscope(['inspect', String(master), '--watch', '1', '--count', '3', '--heap-map-dir', live.dir]);
  assert.is(r.status, 0, r.stderr);
  const samples = r.stdout.split('\n').filter((l) => /^\[\s*[\d.]+s\] child \d+: copied/.test(l));
  assert.is(samples.length, 3 * 2, r.stdout);
  // blames are computed beside the samples: an early sample may say so (with the last blame finished,
  // when the worker changed since); the last one has them
  for (const line of samples) assert.match(line, /s since fork, top: ([a-z][\w.-]+(, [a-z][\w.-]+)*( \(as of \d+\.\ds; blame under way\))?|\(blame under way\))$/);
  for (const line of samples.slice(-2)) assert.match(line, /s since fork, top: [a-z][\w.-]+/, 'the last sample blames every worker');
  assert.match(r.stdout, /copied memory per child over 3 samples/);
  assert.ok(r.stdout.split('\n').filter((l) => /^\s+\d+ [▁▂▃▄▅▆▇█]{3}\s/.test(l)).length === 2, 'a curve per worker');
});

test('--format prometheus: node_exporter textfile metrics that parse', () => {
  const r = runCowscope(['inspect', String(master), '--format', 'prometheus', '--heap-map-dir', live.dir]);
  assert.is(r.status, 0, r.stderr);
  const described = new Map<string, { help: boolean; type: string }>();
  let samples = 0;
  for (const line of r.stdout.trimEnd().split('\n')) {
    let m = /^# HELP ([a-z_:][a-z0-9_:]*) \S.*$/.exec(line);
    if (m) {
      described.set(m[1], { help: true, type: '' });
      continue;
    }
    m = /^# TYPE ([a-z_:][a-z0-9_:]*) (gauge|counter)$/.exec(line);
    if (m) {
      assert.ok(described.get(m[1])?.help, `${m[1]}: HELP before TYPE`);
      described.get(m[1])!.type = m[2];
      continue;
    }
    m = /^([a-z_:][a-z0-9_:]*)\{((?:[a-z_][a-z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\} (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    assert.ok(described.get(m![1])?.type, `${m![1]} described before its samples`);
    samples++;
  }
  assert.ok(samples > 10);
  for (const name of ['cowscope_process_rss_bytes', 'cowscope_child_copied_bytes', 'cowscope_child_copied_by_cause_bytes']) assert.ok(described.has(name), name);
  const byCause = r.stdout.split('\n').filter((l) => l.startsWith('cowscope_child_copied_by_cause_bytes{'));
  assert.ok(byCause.some((l) => l.includes(`pid="${workers[0]}"`)));
});

test('a heap map older than the heap: GC heap pages born after it are found in memory', async () => {
  const dir = tempDir('late');
  const agent = runCowscope(['agent-path']).stdout.trim();
  const fam = await startJsonFamily<{ pid: number; children: number[] }>('ruby', [path.join(RUBY_FIXTURES, 'late_heap.rb')], 30_000, {
    ...process.env,
    RUBYOPT: `-r${agent}`,
    COWSCOPE_LIVE_DIR: dir.dir,
  });
  try {
    const r = runCowscope(['inspect', String(fam.info.pid), '--json', '--heap-map-dir', dir.dir]);
    assert.is(r.status, 0, r.stderr);
    for (const s of JSON.parse(r.stdout).sharing) {
      const heap = s.blameByRegion.find((g: { region: string }) => g.region === 'ruby-heap');
      // 300 000 frozen 40-byte slots span ~2 930 pages, nearly all on heap pages the map does not list.
      assert.ok(heap && heap.pages >= 2500, `worker ${s.pid}: the frozen objects' pages are GC heap pages (${heap?.pages})`);
      const frozen = heap.blame.find((b: { cause: string }) => b.cause === 'object.freeze')?.pages ?? 0;
      assert.ok(frozen >= 0.9 * heap.pages, `worker ${s.pid}: ${frozen} of ${heap.pages} GC heap pages blamed on object.freeze`);
      const unknown = s.blame.find((b: { cause: string }) => b.cause === 'unknown')?.pages ?? 0;
      assert.ok(unknown <= 0.05 * s.pages.copied, `worker ${s.pid}: unknown ${unknown} of ${s.pages.copied}`);
    }
  } finally {
    await fam.stop();
    dir.remove();
  }
});

// The agent's at-exit removal of a map is inherited by forked children, which must leave it alone.
const FORK_AND_EXIT = `
$strings = Array.new(10_000) { |i| "s#{i}" }
pid = fork { $strings.size } # ends normally: at_exit handlers run in the child
Process.wait(pid)
puts Dir.children(ENV.fetch('COWSCOPE_LIVE_DIR')).sort.join(' ')
`;

test('a process that wrote a map removes it as it exits normally; a child of it that exits normally leaves it', () => {
  const dir = path.join(live.dir, 'exit');
  fs.mkdirSync(dir, { mode: 0o700 });
  const agent = runCowscope(['agent-path']).stdout.trim();
  const r = spawnSync('ruby', ['-e', FORK_AND_EXIT], { encoding: 'utf8', env: { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: dir }, timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^(\d+)\.heap\.jsonl \1\.meta\.json$/, 'the map, after the child exited');
  assert.equal(fs.readdirSync(dir), [], 'gone after the parent exited');
});

// Last: it stops the server.
test('a graceful stop (QUIT): master and workers gone, and the master removed its map as it exited', async () => {
  const mapsBefore = fs.readdirSync(live.dir).filter((n) => n.startsWith(`${master}.`));
  assert.equal(mapsBefore.sort(), [`${master}.heap.jsonl`, `${master}.meta.json`]);
  stopped = true;
  await stopFamily(master, 'SIGQUIT', server); // graceful: the master stops and reaps its workers
  for (const pid of [master, ...workers]) assert.is(statOf(pid), undefined, `process ${pid} is gone`);
  // before, maps of stopped servers waited for the next agent's fork to be swept
  assert.equal(fs.readdirSync(live.dir).filter((n) => n.startsWith(`${master}.`)), [], 'the master removed its map at exit');
});

test.run();
