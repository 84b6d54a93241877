// A longer fuzzing run than test/fuzz.test.ts, with the same cases (test/helpers/fuzz.ts):
//
//   node dist/bench/fuzz.js [CASES] [SEED] [--capture FILE]... [--out DIR] [--from N]
//
// CASES capture cases (default 20000; a fifth as many configs, heap maps and /proc texts each), from
// case --from on. Seed captures: the --capture files, or one `cowscope run --save` of
// fixtures/ruby/noop.rb made here (needs ruby). Failures are listed (and with --out, each failing
// capture case is written there as a .cow file to replay with `cowscope report`); exit 1 if any.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, ROOT } from '../test/helpers/family';
import {
  CaptureSeed,
  FuzzFailure,
  captureCase,
  captureSeed,
  caseBytes,
  checkCaptureInput,
  checkConfigCase,
  checkHeapMapCase,
  checkProcfsCase,
  configCase,
  describeCase,
  heapMapCase,
  procfsCase,
} from '../test/helpers/fuzz';

function usage(message: string): never {
  process.stderr.write(`bench/fuzz: ${message}\nusage: node dist/bench/fuzz.js [CASES] [SEED] [--capture FILE]... [--out DIR] [--from N]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const positional: string[] = [];
const captures: string[] = [];
let out: string | undefined;
let from = 0;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--capture') captures.push(args[++i] ?? usage('--capture needs a file'));
  else if (args[i] === '--out') out = args[++i] ?? usage('--out needs a folder');
  else if (args[i] === '--from') from = Number(args[++i]);
  else positional.push(args[i]);
}
const cases = Number(positional[0] ?? 20000);
const seed = Number(positional[1] ?? Date.now() % 2 ** 31);
if (!Number.isInteger(cases) || cases < 1) usage(`CASES must be a whole number, not ${positional[0]}`);
if (!Number.isInteger(seed)) usage(`SEED must be a whole number, not ${positional[1]}`);
if (!Number.isInteger(from) || from < 0) usage('--from must be a whole number');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-fuzz-bench-'));
const seeds: CaptureSeed[] = [];
const failures: string[] = [];
const longest = { ms: 0, what: '' };

function record(fn: () => { ms: number }, what: string, onFailure?: () => void): boolean {
  try {
    const r = fn();
    if (r.ms > longest.ms) Object.assign(longest, { ms: r.ms, what });
    return true;
  } catch (e) {
    failures.push(e instanceof FuzzFailure ? e.message : `${what}: ${(e as Error).stack}`);
    onFailure?.();
    return false;
  }
}

try {
  if (!captures.length) {
    const file = path.join(work, 'noop.cow');
    const r = spawnSync(process.execPath, [CLI, 'run', '--save', file, path.join(ROOT, 'fixtures', 'ruby', 'noop.rb')], { encoding: 'utf8' });
    if (r.status !== 0) usage(`cowscope run --save failed: ${r.stderr.trim()}`);
    captures.push(file);
  }
  for (const f of captures) seeds.push(captureSeed(path.basename(f), fs.readFileSync(f)));
  if (out) fs.mkdirSync(out, { recursive: true });
  process.stdout.write(`seed ${seed}, cases ${from}..${from + cases - 1}, seed captures: ${captures.join(', ')}\n`);

  const t0 = Date.now();
  let accepted = 0;
  for (let n = from; n < from + cases; n++) {
    const { rng, c } = captureCase(seeds, seed, n);
    const what = describeCase(seed, n, c);
    record(
      () => {
        const r = checkCaptureInput(c.input, rng, what);
        if (r.accepted) accepted++;
        return r;
      },
      what,
      () => out && fs.writeFileSync(path.join(out, `case-${seed}-${n}.cow`), caseBytes(c)),
    );
    if ((n - from + 1) % 5000 === 0) process.stdout.write(`  ${n - from + 1} capture cases, ${failures.length} failures, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  process.stdout.write(`capture cases: ${cases}, ${accepted} accepted and reported, in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

  const others = Math.max(1, Math.floor(cases / 5));
  const config = path.join(work, 'cowscope.json');
  const base = { program: path.join(ROOT, 'fixtures', 'ruby', 'noop.rb'), children: 2, repeat: 1, budgets: { copiedPerChild: '24MiB', sharedRatio: 0.9, causes: { 'gc.age': '1MiB' } }, tolerance: '5%' };
  for (let n = from; n < from + others; n++) {
    const c = configCase(base, seed, n);
    const what = `config case ${n} (seed ${seed}): ${c.ops.join('; ')}`;
    record(() => checkConfigCase(config, c.text, what), what);
  }
  const lines = fs.readFileSync(path.join(ROOT, 'fixtures', 'heapdump', 'ruby31-sample.jsonl'), 'latin1').split('\n');
  const heap = path.join(work, 'heap.jsonl');
  for (let n = from; n < from + others; n++) {
    const c = heapMapCase(lines, seed, n);
    const what = `heap map case ${n} (seed ${seed}): ${c.ops.join('; ')}`;
    record(() => checkHeapMapCase(heap, c, what), what);
  }
  const procDir = path.join(ROOT, 'fixtures', 'proc');
  const samples = fs.readdirSync(procDir).map((f) => fs.readFileSync(path.join(procDir, f), 'utf8'));
  for (let n = from; n < from + others; n++) {
    const c = procfsCase(samples, seed, n);
    const what = `procfs case ${n} (seed ${seed}): ${c.ops.join('; ')}`;
    record(() => checkProcfsCase(c.text, what), what);
  }
  process.stdout.write(`configs, heap maps, /proc texts: ${others} each\n`);
  process.stdout.write(`longest case: ${longest.ms.toFixed(0)} ms: ${longest.what.slice(0, 400)}\n`);
  process.stdout.write(`${failures.length} failure${failures.length === 1 ? '' : 's'}\n`);
  for (const f of failures.slice(0, 50)) process.stdout.write(`  ${f.split('\n')[0].slice(0, 600)}\n`);
  process.exitCode = failures.length ? 1 : 0;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
