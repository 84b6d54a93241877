// Benchmarks for the foundation, printed (never asserted). Each figure stands next to its limit,
// measured in the same run on the same processes:
//  1. classification of a parent+child pair (1 GiB and 4 GiB) against a minimal C pread loop;
//  2. `cowscope inspect --json` of a 4 GiB family against `smem -P` on the same family, node's own
//     start-up, and the kernel reads inspect needs done alone in C (bench/family_reads.c);
//  2b. `cowscope inspect --watch 1 --count 5` on a 5-process Rails Unicorn cluster, each sample's cost,
//     next to `smem` on the same processes;
//  3. `cowscope run` overhead beyond the program's boot against ObjectSpace.dump_all alone;
//  4. fault tracing: the children's workload time (inside Ruby) with and without --no-trace-faults.
// Run as root: npm run bench

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { captureProcesses, checkTarget } from '../native/capture';
import { ZeroDetection, comparePages, features, pageSize, readPagemap, readPagemapAsync } from '../native/probe';
import { ingestRubyHeapMap as ingestHeapDump } from '../runtimes/ruby/heap-map';
import { loadCapture } from '../native/capture-file';
import { blameRun } from '../analyzers/run-report';
import os from 'node:os';
import { classifyPair } from '../analyzers/classify';
import { summarizePair } from '../analyzers/sharing';
import { inspect } from '../cli/commands/inspect';
import { ROOT, fixtureBinary, startFamily, stopAll } from '../test/helpers/family';
import { freePort, get, until } from '../test/helpers/servers';
import { familyOf } from '../native/proc';

const REPEAT = 7;
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
/** the installed command (package.json bin) */
const BIN = path.join(ROOT, 'bin', 'cowscope');

/** Best time of n runs, after one untimed warm-up run (JIT compilation is not what is measured). */
function best<T>(n: number, fn: () => T): { seconds: number; result: T } {
  let seconds = Infinity;
  let result = fn();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    result = fn();
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { seconds, result };
}

async function bestAsync<T>(n: number, fn: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  let seconds = Infinity;
  let result = await fn();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    result = await fn();
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { seconds, result };
}

/** A C program of bench/, compiled into dist/bench. */
function benchBinary(name: string, flags: string[] = []): string {
  const bin = path.join(ROOT, 'dist', 'bench', name);
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  execFileSync('cc', ['-O2', ...flags, '-o', bin, path.join(ROOT, 'bench', `${name}.c`)]);
  return bin;
}
const preadLoop = () => benchBinary('pread_loop');

const mps = (pages: number, s: number) => `${(pages / s / 1e6).toFixed(1)} Mpages/s`;
const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
/** The best and the median (upper middle) of some timings. */
const bestAndMedian = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { best: s[0], median: s[s.length >> 1] };
};

async function classification(gib: number, loop: string): Promise<void> {
  const pages = (gib * 1024 * 1024 * 1024) / pageSize;
  const fam = await startFamily(['--pages', String(pages), '--child', `0-${pages - 1}/10:0`], [], fixtureBinary(), 120_000);
  try {
    const parent = checkTarget(fam.info.pid);
    const child = checkTarget(fam.info.children[0]);
    // The scanned mappings, taken once: both readers cover exactly these ranges of both processes.
    const cap = await captureProcesses([parent, child]);
    const [p, c] = cap.processes;
    const starts = Float64Array.from(p.scanned, (i) => p.vmas[i].start);
    const ends = Float64Array.from(p.scanned, (i) => p.vmas[i].end);
    const total = 2 * starts.reduce((n, s, i) => n + (ends[i] - s) / pageSize, 0);
    const ranges = Array.from(starts).flatMap((s, i) => [s.toString(16), ends[i].toString(16)]);
    const out = execFileSync(loop, [String(fam.info.pid), String(fam.info.children[0]), String(REPEAT), ...ranges], { encoding: 'utf8' });
    const [cSeconds, cPages, cShared] = out.trim().split(' ').map(Number);

    const opts = { tier: cap.meta.tier, pageSize, zeroPagesKnown: cap.meta.zeroPagesKnown, crowded: false };
    // What capture uses in this tier: the zero page's frame when PFNs are visible, else PAGEMAP_SCAN.
    const zeroPfn = features().zeroPfn;
    const zero: ZeroDetection = zeroPfn ? { scan: false, zeroPfn } : { scan: true, zeroPfn: 0 };
    const classify = (pp: typeof p.pages, cp: typeof p.pages) => {
      const pc = { ...p, pages: pp };
      const cc = { ...c, pages: cp, scanned: p.scanned, vmas: p.vmas };
      const { classes } = classifyPair(cc, pc, opts);
      return summarizePair(cc, p.pid, classes, pageSize, false);
    };
    const ours = best(REPEAT, () => classify(readPagemap(p.pid, starts, ends, zero), readPagemap(c.pid, starts, ends, zero)));
    const parallel = await bestAsync(REPEAT, async () => {
      const [pp, cp] = await Promise.all([readPagemapAsync(p.pid, starts, ends, zero), readPagemapAsync(c.pid, starts, ends, zero)]);
      return classify(pp, cp);
    });
    const reads = best(REPEAT, () => {
      readPagemap(p.pid, starts, ends, zero);
      readPagemap(c.pid, starts, ends, zero);
    });
    const full = await bestAsync(REPEAT, () => captureProcesses([parent, child]));
    const s = ours.result.pages;
    console.log(`\n${gib} GiB parent + child (child wrote every 10th page), ${cPages} pages per side:`);
    console.log(`  C pread loop (limit)          ${ms(cSeconds).padStart(9)}  ${mps(2 * cPages, cSeconds)}  shared=${cShared}`);
    console.log(`  cowscope, one thread          ${ms(ours.seconds).padStart(9)}  ${mps(total, ours.seconds)}  shared=${s.shared} copied=${s.copied}  -> ${(cSeconds / ours.seconds).toFixed(2)}x the C loop's speed (goal >= 0.5)`);
    console.log(`    of which the pagemap reads  ${ms(reads.seconds).padStart(9)}`);
    console.log(`  cowscope, both read at once   ${ms(parallel.seconds).padStart(9)}  ${mps(total, parallel.seconds)}  -> ${(cSeconds / parallel.seconds).toFixed(2)}x (thread pool, ${parallel.result.pages.shared === s.shared ? 'same' : 'DIFFERENT'} result)`);
    console.log(`  capture with maps + smaps_rollup ${ms(full.seconds).padStart(6)}  (what inspect reads for the pair)`);
  } finally {
    await fam.stop();
  }
}

/** Best (and median) wall time of each command, the commands taking turns (interleaved), after one
 *  untimed round: machine noise (other jobs on a shared machine) hits all of them alike. */
/** CPU seconds (user + system) of this process's waited-for children so far: /proc/self/stat cutime and
 *  cstime, in clock ticks (USER_HZ 100). CPU time is what a busy machine distorts least. */
function childrenCpu(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // fields 16 and 17 of proc(5), counted from state (3)
}

/** Best (and median) wall time of each command, and its mean CPU time, the commands taking turns
 *  (interleaved), after one untimed round: machine noise (other jobs on a shared machine) hits all of
 *  them alike. */
function interleaved(n: number, commands: Record<string, () => { status: number | null; stderr?: string | Buffer }>): Record<string, { best: number; median: number; cpu: number }> {
  const times: Record<string, number[]> = {};
  const cpu: Record<string, number> = {};
  for (let round = 0; round <= n; round++) {
    for (const [name, fn] of Object.entries(commands)) {
      const c0 = childrenCpu();
      const t0 = process.hrtime.bigint();
      const r = fn();
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.status !== 0) throw new Error(`${name}: exit ${r.status}: ${String(r.stderr ?? '')}`);
      if (round > 0) {
        (times[name] ??= []).push(s);
        cpu[name] = (cpu[name] ?? 0) + childrenCpu() - c0;
      }
    }
  }
  const out: Record<string, { best: number; median: number; cpu: number }> = {};
  for (const [name, t] of Object.entries(times)) out[name] = { ...bestAndMedian(t), cpu: cpu[name] / n };
  return out;
}

async function inspectVsSmem(): Promise<void> {
  // 4 GiB parent; one child wrote every 10th page, two wrote a few pages. The fixture runs under a name
  // of this run's own, so that `smem -P` reads this family only (other jobs on a shared machine run
  // cow_family too).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-bench-'));
  const name = `cow_bench_${process.pid}`;
  const binary = path.join(dir, name);
  fs.copyFileSync(fixtureBinary(), binary);
  fs.chmodSync(binary, 0o755);
  const pages = (4 * 1024 * 1024 * 1024) / pageSize;
  // Filling 4 GiB takes ~15 s where a page fault costs 10 µs (a PVM guest): more than the tests' 20 s
  // allowance at times.
  const fam = await startFamily(['--pages', String(pages), '--child', `0-${pages - 1}/10:0`, '--child', '0-1000:0', '--child', '5000-9000:0'], [], binary, 120_000);
  try {
    const N = 9;
    // Like with like: each command is spawned alike and timed whole, its interpreter's start-up included
    // (smem's Python, our node), in this machine's environment; cowscope as installed (bin/cowscope, which
    // starts node without NODE_EXTRA_CA_CERTS: Node 20 parses that file and its own CA bundle before any
    // script runs, nodejs/node#40524), not npx. When the variable is set, `node dist/cli/main.js` with it
    // is timed too: what the wrapper saves.
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    const bare = { ...process.env };
    delete bare.NODE_EXTRA_CA_CERTS;
    const inspectArgs = ['inspect', String(fam.info.pid), '--json'];
    const reads = benchBinary('family_reads', ['-pthread']);
    const members = [fam.info.pid, ...fam.info.children].map(String);
    const t = interleaved(N, {
      smem: () => spawnSync('smem', ['-c', 'pid uss pss', '-P', name], { encoding: 'utf8' }),
      reads: () => spawnSync(reads, members),
      inspect: () => spawnSync(BIN, inspectArgs, { encoding: 'utf8', env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` } }),
      node: () => spawnSync(process.execPath, ['-e', '0'], { env: bare }),
      // the same command with its modules loaded one by one from dist (no bundle: scripts/bundle-cli.js)
      unbundled: () => spawnSync(process.execPath, [CLI, ...inspectArgs], { encoding: 'utf8', env: bare }),
      ...(extraCa ? { inspectCa: () => spawnSync(process.execPath, [CLI, ...inspectArgs], { encoding: 'utf8' }) } : {}),
    });
    const listed = spawnSync('smem', ['-H', '-c', 'pid', '-P', name], { encoding: 'utf8' }).stdout.trim().split('\n').length;
    const inProcess = await bestAsync(3, () => inspect({ pid: String(fam.info.pid), json: true, mappings: false, bytes: false }));
    const row = (label: string, r: { best: number; median: number; cpu: number }) => `  ${label.padEnd(30)}${ms(r.best).padStart(9)}  (median ${ms(r.median)}, CPU ${ms(r.cpu)})`;
    const ratio = (r: { best: number; median: number; cpu: number }) =>
      `${(r.median / t.smem.median).toFixed(2)}x smem's time, median over median (best over best ${(r.best / t.smem.best).toFixed(2)}x, CPU ${(r.cpu / t.smem.cpu).toFixed(2)}x`;
    console.log(`
inspect vs smem, 4 GiB parent + 3 children, whole command including start-up (interleaved, best and median of ${N}; a shared machine is noisy):`);
    console.log(`${row(`smem -P (${listed} processes)`, t.smem)}  PSS/USS only (smem lists itself too)`);
    console.log(`${row('cowscope inspect --json', t.inspect)}  -> ${ratio(t.inspect)}; goal <= 1.0x, must <= 1.2x)`);
    console.log(`${row('  of which node start-up', t.node)}  node -e 0`);
    console.log(`${row('  without the bundle', t.unbundled)}  -> ${ratio(t.unbundled)}): node dist/cli/main.js, its 26 modules loaded one by one`);
    console.log(`  ${'  and the inspect itself'.padEnd(30)}${ms(inProcess.seconds).padStart(9)}  (in-process, warm: maps + smaps_rollup + pagemap of 4 processes, classification)`);
    // What a command could take with its modules loaded for free: node's start and the warm inspect, the
    // reads of both kinds on every CPU (smem reads smaps alone, one page-table walk a process where inspect
    // makes two: smaps_rollup and pagemap).
    const loaded = t.node.best + inProcess.seconds;
    console.log(
      `  ${'  start-up + the inspect'.padEnd(30)}${ms(loaded).padStart(9)}  -> ${(loaded / t.smem.best).toFixed(2)}x smem's best; the rest of the command's best (${ms(t.inspect.best - loaded)}) is loading the modules and writing the output`,
    );
    // The floor: the kernel reads alone (bench/family_reads.c), after a node start-up.
    const floor = t.node.best + t.reads.best;
    console.log(`${row('  the reads alone, in C', t.reads)}  every rollup and pagemap on ${os.cpus().length} threads, nothing decoded (bench/family_reads.c)`);
    console.log(
      `  ${'  node start-up + those reads'.padEnd(30)}${ms(floor).padStart(9)}  -> ${(floor / t.smem.best).toFixed(2)}x smem's best: the floor for a command that starts node and reads what inspect reads`,
    );
    if (t.inspectCa)
      console.log(`${row('node dist/cli/main.js, CA file', t.inspectCa)}  -> ${ratio(t.inspectCa)}): without bin/cowscope, NODE_EXTRA_CA_CERTS as this machine sets it`);
  } finally {
    await fam.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `inspect --watch 1 --count 5` on a 5-process Rails cluster (Debian's Unicorn, preload_app, 4 workers,
 *  the live agent), the workers warmed by requests first: the whole command, each sample's cost (from
 *  --debug) and `smem` on the same processes. Watched idle, the samples after the first reuse what the
 *  first found (gather/reuse.ts) unless a worker or the master ran meanwhile (a Unicorn worker wakes
 *  every 31 s with `timeout 60`); then again while a client sends 4 requests/s, where every sample
 *  attaches the workers' part afresh (the master's part is kept while their copied pages are the same)
 *  and blames every worker again (their words change). */
async function watchRails(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-bench-'));
  const live = path.join(dir, 'maps');
  fs.mkdirSync(live, { mode: 0o700 });
  const port = await freePort();
  // the config's path is this run's own: `smem -P` and the cleanup find this cluster alone
  const conf = path.join(dir, 'unicorn.conf.rb');
  fs.writeFileSync(conf, `worker_processes 4\npreload_app true\nlisten "127.0.0.1:${port}"\ntimeout 60\n`);
  const agent = path.join(ROOT, 'runtimes', 'ruby', 'agent', 'cowscope.rb');
  const server = spawn('unicorn', ['-E', 'none', '-c', conf, path.join(ROOT, 'fixtures', 'ruby', 'rails', 'config.ru')], {
    env: { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: live, DATABASE_URL: `sqlite3:${path.join(dir, 'shop.sqlite3')}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr!.on('data', (d) => (log += d));
  const master = server.pid!;
  try {
    await until('unicorn ready', 120_000, () => /worker=3 ready/.test(log) || server.exitCode !== null);
    if (!/worker=3 ready/.test(log)) throw new Error(`unicorn did not start:\n${log}`);
    // 150 rounds of the four routes, 8 at a time: every worker serves some
    const routes = ['/', '/products', '/products/7', '/stats'];
    const all = Array.from({ length: 150 }, () => routes).flat();
    for (let i = 0; i < all.length; i += 8) await Promise.all(all.slice(i, i + 8).map((r) => get(port, r)));
    // the watch, its samples' costs; busy: while a client sends a request every 250 ms (each worker's
    // words change between samples: every sample attaches their part afresh and blames every worker again)
    const watch = async (busy: boolean) => {
      let serving = busy;
      const client = (async () => {
        for (let i = 0; serving; i++) {
          await get(port, routes[i % routes.length]);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      const t0 = process.hrtime.bigint();
      const child = spawn(process.execPath, [CLI, 'inspect', String(master), '--heap-map-dir', live, '--watch', '1', '--count', '5', '--debug', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let [stdout, stderr] = ['', ''];
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const status = await new Promise<number | null>((r) => child.once('exit', r));
      const whole = Number(process.hrtime.bigint() - t0) / 1e9;
      serving = false;
      await client;
      if (status !== 0) throw new Error(stderr);
      return { whole, samples: stdout.trim().split('\n').map((l) => JSON.parse(l) as { sharing: { pid: number; pages: { copied: number } }[] }), costs: stderr.split('\n').filter((l) => /^cowscope: sample \d+ took/.test(l)) };
    };
    const idle = await watch(false);
    const copied = idle.samples[0].sharing.map((x) => (x.pages.copied * pageSize) / 1048576);
    const t = interleaved(5, { smem: () => spawnSync('smem', ['-c', 'pid uss pss', '-P', conf], { encoding: 'utf8' }) });
    console.log(`
inspect --watch 1 --count 5, Rails 6.1 on Debian's Unicorn (master + 4 workers, ${copied.map((m) => m.toFixed(1)).join('/')} MiB copied per worker):`);
    const print = (w: typeof idle, label: string) => {
      console.log(`  whole command, ${label.padEnd(14)} ${ms(w.whole).padStart(9)}  (goal 4-6 s: four 1 s intervals and the samples' cost)`);
      for (const c of w.costs) {
        const m = /^cowscope: sample (\d+) took (\d+) ms \((.*)\)$/.exec(c)!;
        console.log(`    sample ${m[1]}                    ${`${m[2]} ms`.padStart(9)}  (${m[3].replace(/; heap maps parsed \d+, reused \d+;/, ';')})`);
      }
    };
    print(idle, 'idle');
    console.log(`  smem -c 'pid uss pss' -P       ${ms(t.smem.best).padStart(9)}  (median ${ms(t.smem.median)}; the same 5 processes, PSS/USS only)`);
    print(await watch(true), '4 requests/s');
  } finally {
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGQUIT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) {
        for (const p of familyOf(master)) if (p !== master) process.kill(p, 'SIGKILL');
        server.kill('SIGKILL');
        await exited;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runOverhead(): Promise<void> {
  const app = path.join(ROOT, 'fixtures', 'ruby', 'million.rb');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-bench-'));
  try {
    // ObjectSpace.dump_all alone, timed inside Ruby after the program has loaded (what the heap map costs
    // at the least: cowscope takes it from a sibling fork).
    const dumpScript = `load ${JSON.stringify(app)}; t = Process.clock_gettime(Process::CLOCK_MONOTONIC); File.open(${JSON.stringify(path.join(dir, 'heap.jsonl'))}, 'w') { |f| ObjectSpace.dump_all(output: f, full: true) }; print Process.clock_gettime(Process::CLOCK_MONOTONIC) - t`;
    const dumpTimes: number[] = [];
    const N = 3;
    const t = interleaved(N, {
      plain: () => spawnSync('ruby', [app], { encoding: 'utf8' }),
      run: () => spawnSync(process.execPath, [CLI, 'run', '--json', '--children', '4', app], { encoding: 'utf8' }),
      dump: () => {
        const r = spawnSync('ruby', ['-robjspace', '-e', dumpScript], { encoding: 'utf8' });
        dumpTimes.push(Number(r.stdout));
        return r;
      },
    });
    const dumpAll = Math.min(...dumpTimes.slice(1));
    const r = spawnSync(process.execPath, [CLI, 'run', '--json', '--debug', '--children', '4', app], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    const report = JSON.parse(r.stdout);
    // --debug: "cowscope: run took N ms since node started (step ms, …)"
    const steps = /run took .*$/m.exec(r.stderr)?.[0] ?? '';
    const overhead = t.run.best - t.plain.best;
    console.log(`
run overhead, ${report.heapMap.objects} heap slots (${report.heapMap.objects - report.heapMap.free} live), 4 children (interleaved, best of ${N}):`);
    console.log(`  ruby million.rb alone         ${ms(t.plain.best).padStart(9)}  (boot; no workload)`);
    console.log(`  ObjectSpace.dump_all alone    ${ms(dumpAll).padStart(9)}  (full: true, to a file, timed inside Ruby)`);
    console.log(`  cowscope run --children 4     ${ms(t.run.best).padStart(9)}  -> overhead beyond the boot ${ms(overhead)} = ${(overhead / dumpAll).toFixed(2)}x dump_all alone (goal <= 1.5x)`);
    console.log(`    of which the heap map       ${ms(report.heapMap.seconds).padStart(9)}  (dump_all full: true in a sibling fork, as the agent timed it; the children are read meanwhile)`);
    console.log(`  one more run, step by step (--debug): ${steps}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function blameBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-bench-'));
  try {
    // 1. Heap map ingest: a full dump of ~1M objects.
    const dump = path.join(dir, 'heap.jsonl');
    const app = path.join(ROOT, 'fixtures', 'ruby', 'million.rb');
    execFileSync('ruby', ['-robjspace', '-e', `load ${JSON.stringify(app)}; File.open(${JSON.stringify(dump)}, 'w') { |f| ObjectSpace.dump_all(output: f, full: true) }`]);
    const bytes = fs.statSync(dump).size;
    const all = best(3, () => ingestHeapDump(dump, 16384, new Float64Array()));
    const objects = all.result.objects;
    const some = Float64Array.from(Array.from(all.result.bodies).filter((_, i) => i % 10 === 0).flatMap((b) => [b, b + 4096, b + 8192, b + 12288]));
    const tenth = best(3, () => ingestHeapDump(dump, 16384, some));
    console.log(`\nheap map ingest, ${objects} slots, ${(bytes / 1048576).toFixed(0)} MiB of dump_all (best of 3):`);
    console.log(`  keeping classes and iseqs     ${ms(all.seconds).padStart(9)}  ${(objects / all.seconds / 1e6).toFixed(2)} M objects/s (goal >= 1 M/s)`);
    console.log(`  and the objects of 10% pages  ${ms(tenth.seconds).padStart(9)}  ${(objects / tenth.seconds / 1e6).toFixed(2)} M objects/s, ${tenth.result.table.address.length} kept`);

    // 2. Blame over a saved capture with many copied pages, next to the content-diff rate.
    const save = path.join(dir, 'calls.cow');
    const r = spawnSync(process.execPath, [CLI, 'run', '--children', '1', '--save', save, path.join(ROOT, 'fixtures', 'ruby', 'causes.rb')], {
      encoding: 'utf8',
      env: { ...process.env, COWSCOPE_CAUSE: 'calls' },
    });
    if (r.status !== 0) throw new Error(r.stderr);
    // 3. The same on the Rails app (fixtures/ruby/rails): 200 requests in one child under --rack.
    const railsSave = path.join(dir, 'rails.cow');
    const routes = ['GET /', 'GET /products', 'GET /products/7', 'GET /stats'].flatMap((q) => ['--request', q]);
    const rails = spawnSync(process.execPath, [CLI, 'run', '--children', '1', '--save', railsSave, '--rack', path.join(ROOT, 'fixtures', 'ruby', 'rails', 'config.ru'), ...routes, '--requests', '50'], {
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: `sqlite3:${path.join(dir, 'shop.sqlite3')}` },
    });
    if (rails.status !== 0) throw new Error(rails.stderr);
    const fam = await startFamily(['--pages', '262144', '--child', '0-262143/10:0']);
    try {
      const addrs = Float64Array.from({ length: 26215 }, (_, i) => fam.info.base + i * 10 * pageSize);
      const diff = best(3, () => comparePages(fam.info.pid, fam.info.children[0], addrs));
      console.log(`\nblame against the content-diff rate, best of 5:`);
      console.log(`  content diff (limit)          ${(addrs.length / diff.seconds / 1e3).toFixed(0).padStart(6)} K pages/s  (comparePages, ${addrs.length} copied pages of the C fixture)`);
      for (const [label, file] of [['calls fixture', save], ['Rails app, 200 requests', railsSave]]) {
        const capture = loadCapture(file);
        const copied = capture.diffs!.reduce((n, d) => n + d.addrs.length, 0);
        const words = capture.diffs!.reduce((n, d) => n + d.wordPage.length, 0);
        const blame = best(5, () => blameRun(capture));
        console.log(
          `  blame, ${label.padEnd(23)}${(copied / blame.seconds / 1e3).toFixed(1).padStart(6)} K pages/s  (${copied} copied pages, ${words} changed words, ${ms(blame.seconds)}) -> ${(diff.seconds / addrs.length / (blame.seconds / copied)).toFixed(2)}x the diff rate (goal >= 0.5)`,
        );
      }
    } finally {
      await fam.stop();
    }
    // What one command pays: `run` and a blame thread blame a child or two per process, before V8 has
    // optimized the rules (best of 5 above is the warm rate). Fresh processes, the first two blames each,
    // once the C fixture's family (1 GiB) has gone.
    const first = Array.from({ length: 3 }, () => {
      const script = `const { loadCapture } = require(${JSON.stringify(path.join(ROOT, 'dist', 'native', 'capture-file'))}); const { blameRun } = require(${JSON.stringify(path.join(ROOT, 'dist', 'analyzers', 'run-report'))});
        const c = loadCapture(${JSON.stringify(railsSave)}); const t = []; for (let i = 0; i < 2; i++) { const s = performance.now(); blameRun(c); t.push(performance.now() - s); } console.log(JSON.stringify(t));`;
      return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as number[];
    });
    // What `cowscope report` pays before its blame: the saved capture read, checked and decoded, next to
    // gunzip and JSON.parse alone (the floor: every typed array rides as base64 in the JSON).
    const load = best(3, () => loadCapture(railsSave));
    const floor = best(3, () => JSON.parse(zlib.gunzipSync(fs.readFileSync(railsSave)).toString('utf8')));
    console.log(`  loading the Rails capture      ${ms(load.seconds).padStart(9)}  (${(fs.statSync(railsSave).size / 1048576).toFixed(1)} MiB saved; gunzip and JSON.parse alone ${ms(floor.seconds)}: ${(load.seconds / floor.seconds).toFixed(2)}x)`);
    console.log(`  the same, in a fresh process   first blame ${bestAndMedian(first.map((t) => t[0])).median.toFixed(0)} ms, second ${bestAndMedian(first.map((t) => t[1])).median.toFixed(0)} ms (medians of 3 processes: what one run or a new blame thread pays)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function faultTracingOverhead(): Promise<void> {
  const app = path.join(ROOT, 'bench', 'fault_heavy.rb');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-bench-'));
  try {
    const N = 5;
    const out = { traced: path.join(dir, 'traced.txt'), untraced: path.join(dir, 'untraced.txt') };
    let report: { children: { writers: { samples: number; lost: number; pagesWithWriter: number } | null; pages: { copied: number } }[] } | undefined;
    const runWith = (file: string, extra: string[]) => () => {
      const r = spawnSync(process.execPath, [CLI, 'run', '--json', '--children', '2', ...extra, app], { encoding: 'utf8', env: { ...process.env, COWSCOPE_BENCH_OUT: file } });
      if (r.status === 0 && !extra.length) report = JSON.parse(r.stdout);
      return r;
    };
    const t = interleaved(N, { traced: runWith(out.traced, []), untraced: runWith(out.untraced, ['--no-trace-faults']) });
    // Per run two children append their workload time; the first round is the untimed warm-up.
    const workload = (file: string) => {
      return bestAndMedian(fs.readFileSync(file, 'utf8').trim().split('\n').map(Number).slice(2));
    };
    const w = { traced: workload(out.traced), untraced: workload(out.untraced) };
    const c = report!.children[0];
    console.log(`
fault tracing, ${c.writers?.samples ?? 0} faults sampled per child (${c.writers?.lost ?? 0} lost), ${c.pages.copied} copied pages (${c.writers?.pagesWithWriter ?? 0} with a first writer), 2 children (interleaved, ${N} runs each):`);
    console.log(`  workload, --no-trace-faults   ${ms(w.untraced.best).padStart(9)}  (median ${ms(w.untraced.median)}; timed inside Ruby, per child)`);
    console.log(`  workload, traced              ${ms(w.traced.best).padStart(9)}  (median ${ms(w.traced.median)}) -> ${(w.traced.median / w.untraced.median).toFixed(2)}x (median over median)`);
    console.log(`  whole run, --no-trace-faults  ${ms(t.untraced.best).padStart(9)}  (median ${ms(t.untraced.median)})`);
    console.log(`  whole run, traced             ${ms(t.traced.best).padStart(9)}  (median ${ms(t.traced.median)}): opening, draining and naming included`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) console.log('note: not root: the exact tier and the C loop need root; figures will differ');
  // `node dist/bench/run.js inspect run` runs only those sections (classify, inspect, watch, run, blame, faults).
  const only = new Set(process.argv.slice(2));
  const want = (name: string) => only.size === 0 || only.has(name);
  if (want('classify')) {
    const loop = preadLoop();
    await classification(1, loop);
    await classification(4, loop);
  }
  if (want('inspect')) await inspectVsSmem();
  if (want('watch')) await watchRails();
  if (want('run')) await runOverhead();
  if (want('blame')) await blameBench();
  if (want('faults')) await faultTracingOverhead();
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(stopAll);
