// Runs the CLI under /usr/bin/time, to assert on its peak memory (max RSS) and wall time too.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { CLI } from './family';

export interface MeasuredRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** peak resident set size of the cowscope process, in bytes */
  maxRss: number;
}

/** cowscope with args, under `/usr/bin/time -f %M` (its report goes to a file in dir, removed after). */
export function runMeasured(dir: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): MeasuredRun {
  const out = path.join(dir, `time-${process.pid}-${Date.now()}.txt`);
  const t0 = Date.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, process.execPath, CLI, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 20_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...opts.env },
  });
  const seconds = (Date.now() - t0) / 1000;
  let maxRss = NaN;
  try {
    // "Command exited with non-zero status 2" comes first when the exit code is not 0.
    maxRss = Number(fs.readFileSync(out, 'utf8').trim().split('\n').pop()) * 1024;
  } catch {
    // killed by the timeout: no report
  } finally {
    fs.rmSync(out, { force: true });
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', seconds, maxRss };
}

/** Exit 0 or 2, no stack trace, within the time and memory bounds. */
export function assertBounded(r: MeasuredRun, what: string, bounds: { seconds: number; rss: number } = { seconds: 20, rss: 1024 ** 3 }): void {
  assert.ok(r.status === 0 || r.status === 2, `${what}: exit 0 or 2, got ${r.status} (signal ${r.signal}); stderr: ${r.stderr.slice(0, 2000)}`);
  assert.not.match(r.stderr, /\n\s+at /, `${what}: no stack trace: ${r.stderr.slice(0, 2000)}`);
  assert.not.match(r.stderr, /internal error/, `${what}: no internal error: ${r.stderr.slice(0, 2000)}`);
  assert.ok(r.seconds < bounds.seconds, `${what}: took ${r.seconds} s`);
  assert.ok(r.maxRss < bounds.rss, `${what}: peak RSS ${(r.maxRss / 2 ** 20).toFixed(0)} MiB`);
  if (r.status === 2) assert.is(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line on stderr, got:\n${r.stderr.slice(0, 2000)}`);
}
