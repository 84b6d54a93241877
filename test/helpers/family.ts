// Test helpers: build the C fixture, start process families, run the CLI. Every process started here
// is registered and reaped, also when a test fails (see stopAll, called from each suite's after hook).

import { ChildProcess, execFileSync, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const FIXTURE_SRC = path.join(ROOT, 'fixtures', 'cow_family.c');
// Not under build/: node-gyp rebuild wipes that folder.
const FIXTURE_BIN = path.join(ROOT, 'dist', 'fixtures', 'cow_family');

/** Builds fixtures/cow_family.c (statically linked: no shared library pages that observers also map,
 *  so PSS/USS do not depend on which other programs run) and returns its path. */
let built = false;
export function fixtureBinary(): string {
  if (!built) {
    fs.mkdirSync(path.dirname(FIXTURE_BIN), { recursive: true });
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-static', '-o', FIXTURE_BIN, FIXTURE_SRC], { stdio: 'inherit' });
    built = true;
  }
  return FIXTURE_BIN;
}

export interface FamilyInfo {
  pid: number;
  children: number[];
  base: number;
  pageSize: number;
  pages: number;
  zero: number;
  spare: number;
  /** read faults map the shared zero page (else the ZERO pages are zeroed pages of the parent's own) */
  zeroPages: boolean;
  /** 4 KiB pages of the transparent huge pages --huge asked for, as the kernel gave them (AnonHugePages) */
  hugePages: number;
  /** where the --huge area starts (0 without --huge) */
  hugeBase: number;
  /** where --child-move moved each child's first pages to (0 without it) */
  moveBase: number;
}

const running = new Set<ChildProcess>();

export interface Family {
  info: FamilyInfo;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function waitExit(proc: ChildProcess, ms: number): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  proc.stdin?.end();
  if (await waitExit(proc, 5000)) return;
  proc.kill('SIGTERM');
  if (await waitExit(proc, 3000)) return;
  proc.kill('SIGKILL');
  await waitExit(proc, 3000);
}

/** Spawns a program that prints one JSON line when its family is ready, and waits for that line. */
export function startJsonFamily<T>(cmd: string, args: string[], timeoutMs = 20_000, env?: NodeJS.ProcessEnv): Promise<{ info: T; proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: env ?? process.env });
  running.add(proc);
  const stop = async () => {
    await stopProcess(proc);
    running.delete(proc);
  };
  return new Promise((resolve, reject) => {
    let buf = '';
    let late = false;
    const timer = setTimeout(() => {
      // a line that comes while it is being stopped is not ready: the family is going away
      late = true;
      stop().then(() => reject(new Error(`${cmd} did not report ready in ${timeoutMs} ms`)));
    }, timeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      if (late) return;
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolve({ info: JSON.parse(buf.slice(0, nl)) as T, proc, stop });
        } catch (e) {
          stop().then(() => reject(e));
        }
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (!buf.includes('\n')) reject(new Error(`${cmd} exited with ${code} before reporting ready`));
    });
  });
}

/** Starts the C fixture; `prefix` runs it through another program (e.g. setpriv). */
export function startFamily(fixtureArgs: string[], prefix: string[] = [], binary = fixtureBinary(), timeoutMs?: number): Promise<Family> {
  const argv = [...prefix, binary, ...fixtureArgs];
  return startJsonFamily<FamilyInfo>(argv[0], argv.slice(1), timeoutMs);
}

/** Kills and reaps whatever a failed test left running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stopProcess(p)));
  running.clear();
}

export function runCli(args: string[], opts: { prefix?: string[]; cli?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  const argv = [...(opts.prefix ?? []), process.execPath, opts.cli ?? CLI, ...args];
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
