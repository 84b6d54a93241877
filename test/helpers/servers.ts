// Helpers for tests of real servers on the loopback interface.

import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { familyOf, statOf } from '../../native/proc';
import { RUBY_FIXTURES, runCowscope } from './ruby';

/** A TCP port nobody listens on at the moment (the kernel's pick on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET path on 127.0.0.1:port: the status code (a fresh connection each time, 5 s timeout). */
export function get(port: number, path = '/'): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 5000, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls f every 50 ms until it returns something truthy (returned), or fails after ms. */
export async function until<T>(what: string, ms: number, f: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Stops a server family: signal to the master, wait until every pid of the family (and every worker
 *  it forks meanwhile) is gone, SIGKILL what is left. Fails when a pid outlives it. */
export async function stopFamily(master: number, signal: NodeJS.Signals, proc?: ChildProcess, spare: Set<number> = new Set()): Promise<void> {
  if (!master) return;
  // spare: descendants that outlive the master (a Unicorn re-exec'd by USR2 and its workers)
  const pids = new Set(familyOf(master).filter((p) => !spare.has(p)));
  try {
    process.kill(master, signal);
  } catch {
    /* gone */
  }
  const alive = () => [...pids].filter((p) => {
    const st = statOf(p);
    return st && st.state !== 'Z';
  });
  const deadline = Date.now() + 10_000;
  while (alive().length && Date.now() < deadline) {
    for (const p of familyOf(master).slice(1)) if (!spare.has(p)) pids.add(p);
    await sleep(50);
  }
  for (const p of alive()) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  if (proc && proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once('exit', r));
  await until('the family to be reaped', 10_000, () => alive().length === 0);
}

/** Debian's Unicorn on the Rack fixture (preload_app, 2 workers, loopback) with the live agent on
 *  RUBYOPT leaving its heap maps in liveDir; the workers warmed by 40 requests. Stop with stopFamily. */
export async function startAgentUnicorn(liveDir: string): Promise<{ server: ChildProcess; master: number; workers: number[]; port: number }> {
  const port = await freePort();
  const agent = runCowscope(['agent-path']).stdout.trim();
  assert.ok(fs.existsSync(agent), `agent-path prints the agent: ${agent}`);
  const server = spawn('unicorn', ['-E', 'none', '-c', path.join(RUBY_FIXTURES, 'unicorn', 'unicorn.conf.rb'), path.join(RUBY_FIXTURES, 'rack', 'config.ru')], {
    env: { ...process.env, RUBYOPT: `-r${agent}`, COWSCOPE_LIVE_DIR: liveDir, COWSCOPE_FIXTURE_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 30_000;
  while (!(/worker=0 ready/.test(log) && /worker=1 ready/.test(log)) && Date.now() < deadline) await sleep(50);
  assert.ok(/worker=1 ready/.test(log), `unicorn started:\n${log}`);
  const master = server.pid!;
  const workers = familyOf(master).slice(1);
  assert.is(workers.length, 2, `two workers: ${workers}`);
  for (let i = 0; i < 40; i++) assert.is(await get(port), 200);
  return { server, master, workers, port };
}

/** A child's row of `inspect --json`'s sharing, as the live tests read it. */
export interface Sharing {
  pid: number;
  parent: number;
  pages: { copied: number };
  blame?: { cause: string; pages: number }[];
  noBlame?: string;
  blamePending?: true;
  blameAsOf?: number;
}
