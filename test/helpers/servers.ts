// Helpers for tests of real servers on the loopback interface.

import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { familyOf, statOf } from '../../native/proc';

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
export async function stopFamily(master: number, signal: NodeJS.Signals, proc?: ChildProcess): Promise<void> {
  if (!master) return;
  const pids = new Set(familyOf(master));
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
    for (const p of familyOf(master).slice(1)) pids.add(p);
    await sleep(50);
  }
  for (const p of alive()) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  if (proc && proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once('exit', r));
  await until('the family to be reaped', 10_000, () => alive().length === 0);
}
