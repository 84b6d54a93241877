// The cowscope side of a controlled fork of a Ruby program (agent/cowscope.rb is the Ruby side).
//
// It spawns `ruby -r<agent> …` with a control channel on fd 3 (JSON lines both ways), waits for the
// fork point, continues the children (go), waits for them to finish the workload, and at the end
// releases or kills everyone. Every process it started is reaped: cowscope is a child subreaper, so the
// Ruby parent's children come back to it if the parent dies first.

import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { reap, setChildSubreaper } from '../../native/probe';
import { statOf, threadsOf } from '../../native/proc';

export const AGENT_PATH = path.resolve(__dirname, '..', '..', '..', 'runtimes', 'ruby', 'agent', 'cowscope.rb');

/** A failure of the controlled fork; the message says what happened and what to do. */
export class SessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionError';
  }
}

export interface RackWorkload {
  config: string;
  requests: string[];
  count: number;
}

export interface RubyRunOptions {
  ruby: string;
  /** the program: a script and its arguments (ignored with rack) */
  program: string[];
  rack?: RackWorkload;
  children: number;
  strategy: string;
  /** a Ruby file each child loads as its workload */
  workload?: string;
  heapMapPath: string;
  bootTimeoutMs: number;
  workloadTimeoutMs: number;
  /** start ObjectSpace.trace_object_allocations at boot (allocation sites in the heap map) */
  traceAllocations: boolean;
  /** strategy step prewarm: how many times the parent runs the workload before forking */
  prewarm: number;
  /** strategy step custom: a Ruby file the parent loads before forking */
  beforeFork?: string;
  /** the program's working folder (default: cowscope's) */
  cwd?: string;
  /** where the program's own output goes (cowscope keeps stdout for its report) */
  output: Writable;
}

export interface ForkPoint {
  ruby: string;
  platform: string;
  engine: string;
  heapPageSize: number;
  slotSize: number;
  threads: { name: string; status: string }[];
  osThreads: number;
  gcCount: number;
}

interface AgentEvent {
  event: string;
  pid: number;
  [key: string]: unknown;
}

const STDERR_TAIL = 30;

/** Processes whose parent is cowscope itself: after the program's parent exited, these can only be
 *  orphans of its family that the subreaper setting handed to us. */
function adoptedChildren(): number[] {
  const me = process.pid;
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = statOf(Number(name));
    if (s && s.ppid === me) out.push(s.pid);
  }
  return out;
}

export class RubySession {
  forkPoint?: ForkPoint;
  strategy?: { name: string; label: string; seconds: number; steps: { name: string; label: string; seconds: number }[] };
  heapMap?: { path: string; seconds: number; bytes: number };
  twin = 0;
  children: number[] = [];
  /** Rack requests each child answered (0 for other workloads) */
  readonly requestsServed = new Map<number, number>();
  /** GC runs of each child during the workload */
  readonly gcRuns = new Map<number, number>();
  private readonly events: AgentEvent[] = [];
  private wake: (() => void) | undefined;
  private exited: { code: number | null; signal: string | null } | undefined;
  private readonly stderrTail: string[] = [];
  /** resolves when the program's stderr is closed (it and everything holding the pipe exited) */
  private stderrClosed: Promise<void> = Promise.resolve();
  private readonly control: Readable & Writable;

  private constructor(
    readonly proc: ChildProcess,
    private readonly opts: RubyRunOptions,
  ) {
    this.control = proc.stdio[3] as unknown as Readable & Writable;
    this.control.on('error', () => undefined); // EPIPE after the program died: seen through 'exit'
    readline.createInterface({ input: this.control }).on('line', (line) => {
      try {
        this.push(JSON.parse(line) as AgentEvent);
      } catch {
        // not ours: ignore
      }
    });
    this.stderrClosed = new Promise((resolve) => proc.stderr!.once('close', () => resolve()));
    readline.createInterface({ input: proc.stderr! }).on('line', (line) => {
      opts.output.write(`${line}\n`);
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
    });
    proc.stdout!.on('data', (d: Buffer) => opts.output.write(d));
    proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      this.wakeUp();
    });
    proc.on('error', () => {
      this.exited ??= { code: null, signal: null }; // never started: nothing to wait for
      this.wakeUp();
    });
  }

  /** Starts the program. Call ready() next; abort() whenever anything fails. */
  static spawn(opts: RubyRunOptions): RubySession {
    setChildSubreaper();
    const config = {
      fd: 3,
      children: opts.children,
      strategy: opts.strategy,
      heapMap: opts.heapMapPath,
      workload: opts.workload,
      rack: opts.rack?.config,
      requests: opts.rack?.requests,
      requestCount: opts.rack?.count,
      traceAllocations: opts.traceAllocations,
      prewarm: opts.prewarm,
      beforeFork: opts.beforeFork,
    };
    const args = ['-r', AGENT_PATH, ...(opts.rack ? ['-e', 'Cowscope.rack_main'] : opts.program)];
    // Its own process group: everything the program starts (heap-map sibling, twin, children, whatever a
    // workload spawns) can be killed at once, and a Ctrl-C in the terminal reaches cowscope only.
    const proc = spawn(opts.ruby, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, COWSCOPE_CONFIG: JSON.stringify(config) },
      cwd: opts.cwd,
      detached: true,
    });
    return new RubySession(proc, opts);
  }

  /** Resolves once the program reached the fork point and the twin and children are stopped. */
  async ready(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.proc.once('spawn', resolve);
      this.proc.once('error', (e) =>
        reject(new SessionError(`cannot start ${this.opts.ruby}: ${e.message}: install Ruby (apt-get install ruby) or pass --ruby PATH`)),
      );
    });
    await this.boot();
  }

  private push(e: AgentEvent): void {
    this.events.push(e);
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits for the next event matching `want`, failing on agent errors, early exit or timeout. */
  private async next(want: (e: AgentEvent) => boolean, deadline: number, what: () => string): Promise<AgentEvent> {
    for (;;) {
      const i = this.events.findIndex((e) => want(e) || e.event === 'error' || e.event === 'exited');
      if (i >= 0) {
        const e = this.events.splice(i, 1)[0];
        if (e.event === 'error') {
          // The program reports its exception before Ruby prints it and exits: let that output through.
          if (e.pid === this.proc.pid) await this.outputDone(2000);
          throw new SessionError(`${this.who(e.pid)} raised ${e.error}${e.where ? ` (${e.where})` : ''}`);
        }
        if (e.event === 'exited')
          throw new SessionError(`the program called exit (status ${e.status}) before the fork point${e.where ? ` at ${e.where}` : ''}: nothing to measure; remove the exit or call Cowscope.fork_point before it`);
        return e;
      }
      if (this.exited) throw this.earlyExit();
      const left = deadline - Date.now();
      if (left <= 0) throw new SessionError(what());
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Waits (at most ms) until the program exited and its stderr was read to the end. */
  private async outputDone(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.stderrClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  private who(pid: number): string {
    if (pid === this.proc.pid) return 'the program';
    if (this.children.includes(pid)) return `child ${pid}`;
    return `process ${pid}`;
  }

  private earlyExit(): SessionError {
    const how = this.exited!.signal ? `was killed by ${this.exited!.signal}` : `exited with status ${this.exited!.code}`;
    const last = this.stderrTail.filter((l) => l.trim()).slice(-1)[0];
    return new SessionError(
      `the program ${how} before the fork point${last ? ` (last error line: ${last.trim()})` : ''}: cowscope forks at the end of the main script, at Cowscope.fork_point, or after loading --rack`,
    );
  }

  private async boot(): Promise<void> {
    const deadline = Date.now() + this.opts.bootTimeoutMs;
    const late = () => `the program did not reach the fork point within ${this.opts.bootTimeoutMs / 1000} s: raise --timeout, or check that it does not wait for input or run a server loop before the fork point`;
    this.forkPoint = (await this.next((e) => e.event === 'fork_point', deadline, late)) as unknown as ForkPoint;
    this.strategy = (await this.next((e) => e.event === 'strategy', deadline, late)) as unknown as RubySession['strategy'];
    this.heapMap = (await this.next((e) => e.event === 'heap_map', deadline, late)) as unknown as { path: string; seconds: number; bytes: number };
    const forked = await this.next((e) => e.event === 'forked', deadline, late);
    this.twin = forked.twin as number;
    this.children = forked.children as number[];
    await this.waitStopped([this.twin, ...this.children], deadline, 'stop at the fork');
  }

  /** Polls until every pid is stopped (state T), as the agent's processes are when they wait. */
  private async waitStopped(pids: number[], deadline: number, what: string): Promise<void> {
    for (;;) {
      const running = pids.filter((p) => statOf(p)?.state !== 'T');
      if (!running.length) return;
      if (this.exited) throw this.earlyExit();
      const gone = running.filter((p) => !statOf(p) || statOf(p)!.state === 'Z');
      if (gone.length) throw new SessionError(`${this.who(gone[0])} exited unexpectedly while cowscope waited for it to ${what}`);
      if (Date.now() > deadline) throw new SessionError(this.stuck(running, `did not ${what}`));
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Where processes are stuck: state, wchan and threads, one line each. */
  private stuck(pids: number[], what: string): string {
    return pids
      .map((pid) => {
        const s = statOf(pid);
        const threads = threadsOf(pid);
        const list = threads.map((t) => `${t.tid} ${t.comm} ${t.state}${t.wchan && t.wchan !== '0' ? ` in ${t.wchan}` : ''}`).join(', ');
        return `${this.who(pid)} ${what}: state ${s?.state ?? 'gone'}, ${threads.length} thread${threads.length === 1 ? '' : 's'} (${list})`;
      })
      .join('\n');
  }

  /** Lets the children run the workload. */
  go(): void {
    for (const pid of this.children) process.kill(pid, 'SIGCONT');
  }

  /** Waits until every child reported done and stopped again. */
  async waitDone(): Promise<void> {
    const deadline = Date.now() + this.opts.workloadTimeoutMs;
    const pending = new Set(this.children);
    const late = () =>
      `${this.stuck([...pending], `did not finish the workload within ${this.opts.workloadTimeoutMs / 1000} s`)}\n` +
      'a child that waits for a thread started before the fork point hangs: that thread does not exist after fork';
    while (pending.size) {
      const done = await this.next((ev) => ev.event === 'done', deadline, late);
      this.requestsServed.set(done.pid, Number(done.requests ?? 0));
      this.gcRuns.set(done.pid, Number(done.gcRuns ?? 0));
      pending.delete(done.pid);
    }
    await this.waitStopped(this.children, deadline, 'stop after the workload');
  }

  /** Normal end: children and twin are killed, the parent reaps them and exits. */
  async release(): Promise<void> {
    this.kill([this.twin, ...this.children]);
    this.control.write('{"cmd":"release"}\n');
    await this.finish(5000);
  }

  /** Any failure: kill everything now and reap it. Safe to call more than once. */
  async abort(): Promise<void> {
    this.kill([this.twin, ...this.children]);
    this.kill([this.proc.pid ?? 0]);
    await this.finish(5000);
  }

  private kill(pids: number[]): void {
    for (const pid of pids) {
      if (!pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private async finish(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!this.exited) {
      this.kill([this.proc.pid ?? 0]);
      while (!this.exited) await new Promise((r) => setTimeout(r, 10));
    }
    // Whatever is left of the program's process group goes too.
    try {
      if (this.proc.pid) process.kill(-this.proc.pid, 'SIGKILL');
    } catch {
      // the group is empty
    }
    // The parent is gone: its children were reaped by it, or are ours now (subreaper), as is anything
    // they started that left the group. Kill and reap every such orphan.
    for (let i = 0; i < 500; i++) {
      const orphans = [...new Set([this.twin, ...this.children, ...adoptedChildren()])].filter((pid) => pid && statOf(pid));
      if (!orphans.length) break;
      for (const pid of orphans) {
        this.kill([pid]);
        reap(pid);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    this.control.destroy();
  }
}
