// Live mode on real servers and families (issue 12): Debian's Unicorn daemonized (-D) and re-exec'd by
// USR2, Puma with preload_app! and with fork_worker (SIGURG refork), a Pitchfork-style mold fixture, a
// plain Process.fork pool; a churning family; hostile heap-map directories as root; --watch timing.
// Every server is stopped and every pid checked gone, every temp dir removed, in finally blocks.

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { familyOf, statOf } from '../native/proc';
import { RUBY_FIXTURES, runCowscope, tempDir } from './helpers/ruby';
import { freePort, get, sleep, stopFamily, until, Sharing } from './helpers/servers';
import { isRoot, startJsonFamily } from './helpers/family';

const agent = runCowscope(['agent-path']).stdout.trim();

function inspectJson(pid: number, dir: string, extra: string[] = []): { processes: { pid: number }[]; sharing: Sharing[]; notes: string[]; liveMaps?: { pid: number }[] } {
  const r = runCowscope(['inspect', String(pid), '--json', '--heap-map-dir', dir, ...extra]);
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Every child blamed against its own parent, blame adding up to its copied pages, unknown bounded. */
function assertBlamed(report: ReturnType<typeof inspectJson>, parentOf: (pid: number) => number | undefined, maxUnknown?: number): void {
  assert.ok(report.sharing.length > 0, 'children');
  for (const s of report.sharing) {
    const want = parentOf(s.pid);
    if (want !== undefined) assert.is(s.parent, want, `child ${s.pid} against its parent`);
    assert.ok(s.blame, `child ${s.pid} blamed (${s.noBlame ?? ''}); notes: ${report.notes.join(' | ')}`);
    const blamed = s.blame!.reduce((n, b) => n + b.pages, 0);
    assert.is(blamed, s.pages.copied, `child ${s.pid}: blame adds up to its copied pages`);
    if (maxUnknown !== undefined) {
      const unknown = s.blame!.filter((b) => b.cause === 'unknown').reduce((n, b) => n + b.pages, 0);
      assert.ok(unknown <= maxUnknown * s.pages.copied, `child ${s.pid}: unknown ${unknown} of ${s.pages.copied} copied pages`);
    }
  }
}

/** The pid in Unicorn's pid file, or 0 while there is none: USR2 renames it to .oldbin before the new
 *  master writes its own, so it can go between a check that it exists and the read (ENOENT in CI). */
function pidIn(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

function ppidOf(pid: number): number | undefined {
  return statOf(pid)?.ppid;
}

/** Debian's Unicorn daemonized (-D) on the Rack fixture, the agent on RUBYOPT leaving maps in dir/maps:
 *  its port, pid file and master (read from the pid file once it is there). */
async function startDaemonUnicorn(dir: string): Promise<{ port: number; live: string; pidfile: string; master: number }> {
  const live = path.join(dir, 'maps');
  const pidfile = path.join(dir, 'unicorn.pid');
  const port = await freePort();
  const r = spawnSync('unicorn', ['-E', 'none', '-D', '-c', path.join(RUBY_FIXTURES, 'unicorn', 'daemon.conf.rb'), path.join(RUBY_FIXTURES, 'rack', 'config.ru')], {
    env: { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live, COWSCOPE_FIXTURE_PORT: String(port), COWSCOPE_FIXTURE_PIDFILE: pidfile, COWSCOPE_FIXTURE_LOG: path.join(dir, 'unicorn.log') },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.is(r.status, 0, r.stderr);
  const master = await until('the pid file', 20_000, () => pidIn(pidfile));
  return { port, live, pidfile, master };
}

test('unicorn -D: the daemonized master has its own map; every worker blamed, unknown <= 5%', async () => {
  const dir = tempDir('live-unicorn-d');
  let master = 0;
  try {
    const u = await startDaemonUnicorn(dir.dir);
    const { port, live } = u;
    master = u.master;
    await until('two workers', 20_000, () => familyOf(master).length === 3);
    for (let i = 0; i < 40; i++) assert.is(await get(port), 200);
    assert.ok(fs.existsSync(path.join(live, `${master}.heap.jsonl`)), 'the daemonized master has its own map');
    const report = inspectJson(master, live);
    assert.is(report.sharing.length, 2);
    assertBlamed(report, () => master, 0.05);
  } finally {
    await stopFamily(master, 'SIGQUIT');
    dir.remove();
  }
});

test('unicorn USR2 re-exec: the new master (a child of the old) has its own map; its workers blamed against it, beside the old ones and after the old master quits', async () => {
  const dir = tempDir('live-unicorn-usr2');
  let [old, fresh] = [0, 0];
  try {
    const u = await startDaemonUnicorn(dir.dir);
    const { port, live, pidfile } = u;
    old = u.master;
    await until('two workers', 20_000, () => familyOf(old).length === 3);
    const oldWorkers = familyOf(old).slice(1);
    // USR2: the old master renames its pid file to .oldbin and forks a new master that execs unicorn
    // again (the same environment: the agent too), loads the app and forks workers of its own
    process.kill(old, 'SIGUSR2');
    fresh = await until('the new master', 30_000, () => {
      const pid = pidIn(pidfile);
      return pid && pid !== old && familyOf(pid).length === 3 && fs.existsSync(path.join(live, `${pid}.heap.jsonl`)) ? pid : 0;
    });
    assert.is(ppidOf(fresh), old, 'the new master is a child of the old one');
    const newWorkers = familyOf(fresh).slice(1);
    for (let i = 0; i < 40; i++) assert.is(await get(port), 200);
    // both generations at once, from the old master: each worker against its own master
    const both = inspectJson(old, live);
    const listed = both.sharing.map((x) => x.pid);
    for (const w of [...oldWorkers, ...newWorkers]) assert.ok(listed.includes(w), `worker ${w} listed: ${listed}`);
    assertBlamed({ ...both, sharing: both.sharing.filter((x) => x.pid !== fresh) }, ppidOf, 0.05);
    // the old master quits (its workers with it): the new one, reparented, and its workers
    await stopFamily(old, 'SIGQUIT', undefined, new Set([fresh, ...newWorkers]));
    old = 0;
    const after = inspectJson(fresh, live);
    assert.equal(after.sharing.map((x) => x.pid).sort(), [...newWorkers].sort());
    assertBlamed(after, () => fresh, 0.05);
  } finally {
    await stopFamily(fresh, 'SIGQUIT');
    await stopFamily(old, 'SIGQUIT');
    dir.remove();
  }
});

async function startPuma(config: string, dir: string, workers: number): Promise<{ proc: ChildProcess; master: number; port: number; live: string }> {
  const port = await freePort();
  const live = path.join(dir, 'maps');
  const proc = spawn('puma', ['-C', path.join(RUBY_FIXTURES, 'puma', config), path.join(RUBY_FIXTURES, 'rack', 'config.ru')], {
    env: { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live, COWSCOPE_FIXTURE_PORT: String(port), COWSCOPE_FIXTURE_PIDFILE: path.join(dir, 'puma.pid') },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const master = proc.pid!;
  await until(`${workers} puma workers`, 30_000, () => familyOf(master).length === workers + 1 && get(port).then(() => true, () => false));
  await until('puma answering', 10_000, () => true);
  for (let i = 0; i < 5; i++) await get(port).catch(() => 0);
  return { proc, master, port, live };
}

test('Puma preload_app!, 4 workers: every worker blamed against the master', async () => {
  const dir = tempDir('live-puma');
  let puma: Awaited<ReturnType<typeof startPuma>> | undefined;
  try {
    puma = await startPuma('preload.rb', dir.dir, 4);
    for (let i = 0; i < 40; i++) assert.is(await get(puma.port), 200);
    const report = inspectJson(puma.master, puma.live);
    assert.is(report.sharing.length, 4);
    assertBlamed(report, () => puma!.master);
  } finally {
    if (puma) await stopFamily(puma.master, 'SIGTERM', puma.proc);
    dir.remove();
  }
});

test('Puma fork_worker after a SIGURG refork: workers forked by worker 0 blamed against worker 0, unknown <= 5%', async () => {
  const dir = tempDir('live-puma-fw');
  let puma: Awaited<ReturnType<typeof startPuma>> | undefined;
  try {
    puma = await startPuma('fork_worker.rb', dir.dir, 4);
    const worker0 = familyOf(puma.master, undefined).find((p) => ppidOf(p) === puma!.master)!;
    const before = familyOf(worker0).slice(1);
    assert.is(before.length, 3, 'worker 0 forked workers 1..3');
    for (let i = 0; i < 40; i++) assert.is(await get(puma.port), 200);
    await sleep(1200); // a new fork generation: the agent retakes worker 0's map at the refork
    process.kill(puma.master, 'SIGURG');
    const after = await until('workers 1..3 forked again', 30_000, () => {
      const now = familyOf(worker0).slice(1);
      return now.length === 3 && now.every((p) => !before.includes(p)) && now;
    });
    for (let i = 0; i < 40; i++) assert.is(await get(puma.port), 200);
    const report = inspectJson(puma.master, puma.live);
    const forked = report.sharing.filter((s) => after.includes(s.pid));
    assert.is(forked.length, 3, 'workers 1..3 listed');
    for (const s of forked) assert.is(s.parent, worker0);
    assert.ok(report.liveMaps?.some((m) => m.pid === worker0), 'worker 0 has a map of its own');
    assertBlamed({ ...report, sharing: forked }, () => worker0, 0.05);
    assertBlamed({ ...report, sharing: report.sharing.filter((s) => s.pid === worker0) }, () => puma!.master);
  } finally {
    if (puma) await stopFamily(puma.master, 'SIGTERM', puma.proc);
    dir.remove();
  }
});

test('a Pitchfork-style mold: workers blamed against the mold, again after a refork promotes a worker', async () => {
  const dir = tempDir('live-mold');
  const live = path.join(dir.dir, 'maps');
  const fam = await startJsonFamily<{ pid: number; mold: number; workers: number[] }>('ruby', [path.join(RUBY_FIXTURES, 'mold.rb'), '3'], 30_000, {
    ...process.env,
    RUBYOPT: `-r${agent}`,
    COWSCOPE_LIVE_DIR: live,
  });
  const monitor = fam.info.pid;
  try {
    let report = inspectJson(monitor, live);
    assertBlamed({ ...report, sharing: report.sharing.filter((s) => fam.info.workers.includes(s.pid)) }, () => fam.info.mold);
    let lines = '';
    fam.proc.stdout!.on('data', (d) => (lines += d));
    await sleep(1200);
    process.kill(monitor, 'SIGURG');
    const next = await until('a refork', 20_000, () => lines.includes('\n') && (JSON.parse(lines.split('\n')[0]) as { mold: number; workers: number[] }));
    assert.is(next.mold, fam.info.workers[0], 'the first worker became the mold');
    await until('the old mold gone', 10_000, () => !familyOf(monitor).includes(fam.info.mold) && ppidOf(next.mold) === monitor);
    report = inspectJson(monitor, live);
    const forked = report.sharing.filter((s) => next.workers.includes(s.pid));
    assert.is(forked.length, next.workers.length);
    assertBlamed({ ...report, sharing: forked }, () => next.mold);
  } finally {
    const all = familyOf(monitor);
    await fam.stop();
    for (const p of all) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    await until('the mold family gone', 10_000, () => all.every((p) => !statOf(p) || statOf(p)!.state === 'Z'));
    dir.remove();
  }
});

test('a churning family (workers living 0-80 ms): 12 of 12 inspections exit 0, no pid twice', async () => {
  const dir = tempDir('live-churn');
  const live = path.join(dir.dir, 'maps');
  const fam = await startJsonFamily<{ pid: number }>('ruby', [path.join(RUBY_FIXTURES, 'pool.rb'), '4', 'r80'], 30_000, { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live });
  try {
    const formats = [['--json'], [], ['--format', 'prometheus']];
    for (let i = 0; i < 12; i++) {
      const f = formats[i % 3];
      const r = runCowscope(['inspect', String(fam.info.pid), '--heap-map-dir', live, ...f]);
      assert.is(r.status, 0, `run ${i + 1} (${f.join(' ') || 'text'}): ${r.stderr}`);
      let pids: number[];
      if (f[0] === '--json') pids = JSON.parse(r.stdout).processes.map((p: { pid: number }) => p.pid);
      else if (f[0] === '--format') pids = r.stdout.split('\n').filter((l) => l.startsWith('cowscope_process_rss_bytes{')).map((l) => Number(/pid="(\d+)"/.exec(l)![1]));
      else pids = r.stdout.split('\n').map((l) => /^\s*(\d+)\s+\d+\s+(parent|child|process)\b/.exec(l)?.[1]).filter(Boolean).map(Number);
      assert.ok(pids.includes(fam.info.pid), `run ${i + 1}: the parent is listed`);
      assert.is(new Set(pids).size, pids.length, `run ${i + 1}: no pid twice: ${pids}`);
      if (f[0] === '--format') assert.match(r.stdout, /^cowscope_scrape_errors\{kind="vanished"\} \d+$/m);
    }
    const w = runCowscope(['inspect', String(fam.info.pid), '--heap-map-dir', live, '--watch', '0.3', '--count', '4']);
    assert.is(w.status, 0, w.stderr);
  } finally {
    await fam.stop();
  }
  // workers living 1.5-3 s: a watch sees them come and go. Not shorter: a sample takes 0.3-0.9 s here,
  // and a worker that exits while its sample is taken is skipped (noted), so workers living less than
  // a sample or two (as they did, 0-1.2 s) were listed by few samples on a loaded machine, by none but
  // the last at times, and then none was seen going.
  const slow = await startJsonFamily<{ pid: number }>('ruby', [path.join(RUBY_FIXTURES, 'pool.rb'), '3', 'r1500-3000'], 30_000, { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live });
  try {
    const w = runCowscope(['inspect', String(slow.info.pid), '--heap-map-dir', live, '--watch', '0.5', '--count', '10']);
    assert.is(w.status, 0, w.stderr);
    const shown = `${w.stdout}\n${w.stderr}`;
    assert.match(w.stdout, /child \d+ \(new\): copied/, `the watch shows workers coming:\n${shown}`);
    assert.match(w.stdout, /child \d+: gone/, `and going:\n${shown}`);
  } finally {
    await slow.stop();
    dir.remove();
  }
});

test('--watch 1 --count 5 waits the interval between samples; --debug prints each sample\'s cost; bounds; prometheus --output is atomic', async () => {
  const dir = tempDir('live-watch');
  const live = path.join(dir.dir, 'maps');
  const fam = await startJsonFamily<{ pid: number }>('ruby', [path.join(RUBY_FIXTURES, 'pool.rb'), '4', '0'], 30_000, { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live });
  try {
    const t = Date.now();
    const r = runCowscope(['inspect', String(fam.info.pid), '--heap-map-dir', live, '--watch', '1', '--count', '5', '--debug']);
    const took = (Date.now() - t) / 1000;
    assert.is(r.status, 0, r.stderr);
    // Four intervals at least between five samples. How long beyond that is speed, which depends on the
    // machine's load: printed here and measured in bench/, not asserted.
    assert.ok(took >= 4, `took ${took} s`);
    console.log(`    [live-servers] --watch 1 --count 5 on a 5-process pool: ${took.toFixed(1)} s`);
    const costs = r.stderr.split('\n').filter((l) => /^cowscope: sample \d+ took \d+ ms/.test(l));
    assert.is(costs.length, 5, r.stderr);
    assert.match(costs[0], /heap maps parsed 1, reused 0/);
    for (const c of costs.slice(1)) assert.match(c, /heap maps parsed 0, reused 1/, 'the map is parsed once');
    for (const bad of ['0.01', '3000000', 'NaN', '-1']) {
      const b = runCowscope(['inspect', String(fam.info.pid), '--watch', bad, '--count', '1']);
      assert.is(b.status, 2, `--watch ${bad}`);
      // not a number at all: the one message every number option gives; else the interval's own bounds
      assert.match(b.stderr, bad === 'NaN' ? /--watch takes a number, not "NaN"/ : /--watch takes seconds between 0.1 and 86400/);
    }
    const out = path.join(dir.dir, 'prom', 'cow.prom');
    fs.mkdirSync(path.dirname(out));
    const p = runCowscope(['inspect', String(fam.info.pid), '--heap-map-dir', live, '--format', 'prometheus', '--output', out, '--watch', '0.2', '--count', '3']);
    assert.is(p.status, 0, p.stderr);
    assert.is(p.stdout, '');
    assert.equal(fs.readdirSync(path.dirname(out)), ['cow.prom'], 'no temporary file left beside it');
    const text = fs.readFileSync(out, 'utf8');
    assert.match(text, /^# TYPE cowscope_scrape_errors gauge$/m);
    assert.match(text, /^cowscope_scrape_errors\{kind="failed"\} 0$/m);
    assert.match(text, /^cowscope_child_copied_by_cause_bytes\{/m);
  } finally {
    await fam.stop();
    dir.remove();
  }
});

test('--watch on busy workers (their words change at every sample): the last blame finished is shown, marked, while a newer one is under way', async () => {
  const dir = tempDir('live-busy');
  const live = path.join(dir.dir, 'maps');
  const fam = await startJsonFamily<{ pid: number; children: number[] }>('ruby', [path.join(RUBY_FIXTURES, 'pool.rb'), '2', '0', 'busy'], 30_000, { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live });
  try {
    // ten samples half a second apart: the blames of the first (a niced thread's start, a small heap;
    // done by the fourth to seventh sample here) finish well before the last, and every sample after
    // the first finds the workers changed
    const r = runCowscope(['inspect', String(fam.info.pid), '--heap-map-dir', live, '--json', '--watch', '0.5', '--count', '10']);
    assert.is(r.status, 0, r.stderr);
    const samples: { t: number; sharing: Sharing[] }[] = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.is(samples.length, 10);
    const stale = samples.flatMap((x) => x.sharing.filter((s) => s.blamePending && s.blame).map((s) => ({ t: x.t, s })));
    // every sample after the first starts a new blame of each worker (its words changed): one of them at
    // least shows the blame finished for an earlier sample
    assert.ok(stale.length > 0, `a stale blame shown:\n${r.stdout.slice(0, 2000)}`);
    for (const { t, s } of stale) {
      assert.ok(s.blameAsOf !== undefined && s.blameAsOf < t, `child ${s.pid} at ${t} s: blame as of ${s.blameAsOf} s`);
      assert.is(s.blame!.reduce((n, b) => n + b.pages, 0) > 0, true);
    }
    for (const s of samples[0].sharing) assert.ok(s.blamePending && !s.blame, 'the first sample has no blame yet');
    // the last sample waits for the blames of its own inputs
    for (const s of samples[9].sharing) {
      assert.ok(!s.blamePending && s.blameAsOf === undefined, `child ${s.pid}: the last sample's own blame`);
      assert.is(s.blame!.reduce((n, b) => n + b.pages, 0), s.pages.copied, `child ${s.pid}: blame adds up to its copied pages`);
    }
  } finally {
    await fam.stop();
    dir.remove();
  }
});

test('inspect does not list itself; command lines with control characters are escaped', async () => {
  const r = spawnSync('sh', ['-c', `"${process.execPath}" "${path.join(__dirname, '..', 'cli', 'main.js')}" inspect $$ --json`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.ok(!report.processes.some((p: { command: string }) => p.command.includes('main.js inspect')), 'cowscope is not in its own report');
  const evil = spawn('bash', ['-c', 'exec -a "$(printf \'\\033[31mevil\\033]0;title\\007\')" sleep 30'], { stdio: 'ignore' });
  try {
    await until('the renamed sleep', 5000, () => fs.readFileSync(`/proc/${evil.pid}/cmdline`, 'utf8').includes('evil'));
    const t = runCowscope(['inspect', String(evil.pid)]);
    assert.is(t.status, 0, t.stderr);
    assert.not.match(t.stdout, /\x1b|\x07/);
    assert.match(t.stdout, /\\x1b\[31mevil/);
  } finally {
    evil.kill('SIGKILL');
    if (evil.exitCode === null && evil.signalCode === null) await new Promise((res) => evil.once('exit', res));
  }
});

test('hostile heap-map directories and files (as root): refused or reported, never followed', async () => {
  if (!isRoot()) return; // the case that matters: root reading another user's files
  const dir = tempDir('live-hostile');
  fs.chmodSync(dir.dir, 0o755);
  const live = path.join(dir.dir, 'maps');
  const fam = await startJsonFamily<{ pid: number }>('ruby', [path.join(RUBY_FIXTURES, 'pool.rb'), '2', '0'], 30_000, { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live });
  const pid = fam.info.pid;
  try {
    const good = inspectJson(pid, live);
    assertBlamed(good, () => pid);
    const meta = JSON.parse(fs.readFileSync(path.join(live, `${pid}.meta.json`), 'utf8'));
    delete meta.heapIno;
    delete meta.heapSize;
    const heap = fs.readFileSync(path.join(live, `${pid}.heap.jsonl`));
    /** a private root directory with this meta and the given map */
    const planted = (name: string, map: (file: string) => void, mode = 0o700): string => {
      const d = path.join(dir.dir, name);
      fs.mkdirSync(d, { mode });
      fs.chmodSync(d, mode);
      fs.writeFileSync(path.join(d, `${pid}.meta.json`), JSON.stringify(meta), { mode: 0o600 });
      map(path.join(d, `${pid}.heap.jsonl`));
      return d;
    };
    const refused = (d: string, why: RegExp) => {
      const r = inspectJson(pid, d);
      for (const s of r.sharing) {
        assert.is(s.blame, undefined, `${d}: no blame`);
        assert.match(s.noBlame ?? '', why);
      }
      assert.ok(r.notes.some((n) => why.test(n)), `${d}: a note says why: ${r.notes.join(' | ')}`);
    };
    // a symlinked directory (to the good one): not followed
    const link = path.join(dir.dir, 'link');
    fs.symlinkSync(live, link);
    refused(link, /symbolic link \(not followed\)/);
    // a world-writable directory
    refused(planted('open', (f) => fs.writeFileSync(f, heap, { mode: 0o600 }), 0o777), /writable by others/);
    // another user's directory (nobody, uid 65534)
    const staging = path.join(dir.dir, 'staging');
    fs.mkdirSync(staging);
    fs.chmodSync(staging, 0o1777); // like /tmp: anyone may create there
    const theirs = path.join(staging, 'theirs');
    const mk = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'sh', '-c', `mkdir -m 700 ${theirs} && cp /dev/null ${theirs}/${pid}.meta.json`], { encoding: 'utf8' });
    assert.is(mk.status, 0, mk.stderr);
    refused(theirs, /owned by uid 65534/);
    // a map that is a symlink to /etc/shadow
    refused(planted('shadow', (f) => fs.symlinkSync('/etc/shadow', f)), /symbolic link \(not followed\)/);
    // a 1 GiB sparse map
    refused(planted('sparse', (f) => { fs.writeFileSync(f, '', { mode: 0o600 }); fs.truncateSync(f, 1 << 30); }), /limit|sparse/);
    // an empty map, a map of garbage
    refused(planted('empty', (f) => fs.writeFileSync(f, '', { mode: 0o600 })), /empty/);
    const garbage = Buffer.alloc(1 << 20);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24;
    for (let i = 100; i < garbage.length; i += 97) garbage[i] = 10;
    refused(planted('garbage', (f) => fs.writeFileSync(f, garbage, { mode: 0o600 })), /malformed lines|no heap objects/);
    // a real map with a few garbage lines: used, and the malformed lines reported
    const mixed = planted('mixed', (f) => fs.writeFileSync(f, Buffer.concat([Buffer.from('garbage\n{"address":"zz"}\nnot json\n'), heap]), { mode: 0o600 }));
    const r = inspectJson(pid, mixed);
    assertBlamed(r, () => pid);
    assert.ok(r.notes.some((n) => /3 malformed lines of \d+ \(skipped\)/.test(n)), r.notes.join(' | '));
    // another user's map file in our directory
    const foreign = planted('foreign', (f) => { fs.writeFileSync(f, heap, { mode: 0o644 }); fs.chownSync(f, 65534, 65534); });
    refused(foreign, /owned by uid 65534/);
  } finally {
    await fam.stop();
    dir.remove();
  }
});

test.run();
