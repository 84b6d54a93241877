// Benchmarks for the foundation, printed (never asserted). Each figure stands next to its limit,
// measured in the same run on the same processes:
//  1. classification of a parent+child pair (1 GiB and 4 GiB) against a minimal C pread loop;
//  2. `cowscope inspect` against `smem` on the same process family.
// Run as root: npm run bench

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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

const REPEAT = 7;
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

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

function preadLoop(): string {
  const bin = path.join(ROOT, 'dist', 'bench', 'pread_loop');
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  execFileSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'bench', 'pread_loop.c')]);
  return bin;
}

const mps = (pages: number, s: number) => `${(pages / s / 1e6).toFixed(1)} Mpages/s`;
const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;

async function classification(gib: number, loop: string): Promise<void> {
  const pages = (gib * 1024 * 1024 * 1024) / pageSize;
  const fam = await startFamily(['--pages', String(pages), '--child', `0-${pages - 1}/10:0`], [], fixtureBinary());
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

async function inspectVsSmem(): Promise<void> {
  const fam = await startFamily(['--pages', '262144', '--child', '0-262143/10:0', '--child', '0-1000:0', '--child', '5000-9000:0']);
  try {
    const ours = best(3, () => spawnSync(process.execPath, [CLI, 'inspect', String(fam.info.pid), '--json'], { encoding: 'utf8' }));
    if (ours.result.status !== 0) throw new Error(ours.result.stderr);
    const smem = best(3, () => spawnSync('smem', ['-c', 'pid uss pss', '-P', 'cow_family'], { encoding: 'utf8' }));
    const node = best(3, () => spawnSync(process.execPath, ['-e', '0']));
    const inProcess = await bestAsync(3, () => inspect({ pid: String(fam.info.pid), json: true, mappings: false, bytes: false }));
    console.log('\ninspect vs smem, 1 GiB parent + 3 children, whole command including start-up (best of 3):');
    console.log(`  smem -P cow_family            ${ms(smem.seconds).padStart(9)}  (PSS/USS only)`);
    console.log(`  cowscope inspect --json       ${ms(ours.seconds).padStart(9)}  (PSS/USS + page classes of 3 children) -> ${(ours.seconds / smem.seconds).toFixed(2)}x smem's time (goal <= 0.5)`);
    console.log(`    of which node start-up      ${ms(node.seconds).padStart(9)}  (node -e 0)`);
    console.log(`    and the inspect itself      ${ms(inProcess.seconds).padStart(9)}  (in-process: maps + smaps_rollup + pagemap of 4 processes, classification)`);
  } finally {
    await fam.stop();
  }
}

async function runOverhead(): Promise<void> {
  const app = path.join(ROOT, 'fixtures', 'ruby', 'million.rb');
  const plain = best(3, () => spawnSync('ruby', [app], { encoding: 'utf8' }));
  const run = best(3, () => spawnSync(process.execPath, [CLI, 'run', '--json', '--children', '4', app], { encoding: 'utf8' }));
  if (run.result.status !== 0) throw new Error(run.result.stderr);
  const report = JSON.parse(run.result.stdout);
  const overhead = run.seconds - plain.seconds;
  console.log(`\nrun overhead, ${report.heapMap.objects} heap slots (${report.heapMap.objects - report.heapMap.free} live), 4 children (best of 3):`);
  console.log(`  ruby million.rb alone         ${ms(plain.seconds).padStart(9)}  (boot; no workload)`);
  console.log(`  cowscope run --children 4     ${ms(run.seconds).padStart(9)}  -> overhead ${ms(overhead)} (goal < 5000 ms)`);
  console.log(`    of which the heap map       ${ms(report.heapMap.seconds).padStart(9)}  (dump_all full: true in a sibling fork)`);
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
    const capture = loadCapture(save);
    const copied = capture.diffs!.reduce((n, d) => n + d.addrs.length, 0);
    const blame = best(5, () => blameRun(capture));
    const fam = await startFamily(['--pages', '262144', '--child', '0-262143/10:0']);
    try {
      const addrs = Float64Array.from({ length: 26215 }, (_, i) => fam.info.base + i * 10 * pageSize);
      const diff = best(3, () => comparePages(fam.info.pid, fam.info.children[0], addrs));
      console.log(`\nblame, ${copied} copied pages of a Ruby child (calls fixture), best of 5:`);
      console.log(`  content diff (limit)          ${(addrs.length / diff.seconds / 1e3).toFixed(0).padStart(6)} K pages/s  (comparePages, ${addrs.length} copied pages of the C fixture)`);
      console.log(`  blame                         ${(copied / blame.seconds / 1e3).toFixed(0).padStart(6)} K pages/s  (${ms(blame.seconds)}) -> ${(diff.seconds / addrs.length / (blame.seconds / copied)).toFixed(2)}x the diff rate (goal >= 0.5)`);
    } finally {
      await fam.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) console.log('note: not root: the exact tier and the C loop need root; figures will differ');
  const loop = preadLoop();
  await classification(1, loop);
  await classification(4, loop);
  await inspectVsSmem();
  await runOverhead();
  await blameBench();
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(stopAll);
