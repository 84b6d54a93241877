// The cowscope side of a controlled fork of a Ruby program (agent/cowscope.rb is the Ruby side), or of
// a Python program (runtimes/python/agent/cowscope.py speaks the same protocol).
//
// It spawns `ruby -r<agent> …` (or `python3 -c <bootstrap> …`) with a control channel on fd 3 (JSON lines both ways), waits for the
// fork point, continues the children (go), waits for them to finish the workload, and at the end
// releases or kills everyone. Every process it started is reaped: cowscope is a child subreaper, so the
// Ruby parent's children come back to it if the parent dies first.
//
// Deaths are noticed at once: the program through its exit, the twin and the children through a pidfd
// each (native watchExit); the error names who died, how (exit status or signal) and in which phase.
// Every message of the agent is bounded (MAX_MESSAGE bytes a line) and validated (AGENT_PROTOCOL, known
// events, field types) before use; the agent's first message announces its protocol version.

import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { reap, setAddressRandomization, setChildSubreaper, watchExit } from '../../native/probe';
import { statOf, threadsOf } from '../../native/proc';
import { describeBytes } from '../../native/regular-file';
import { DEFAULT_MAX_HEAP_MAP, HeapMapError, checkHeapMap } from './heap-map';
import { MARKING_GC_STEPS, layoutFor, vmOwnThreads } from './layouts';
import { AGENT_LAYOUTS, PYTHON_OLDEST } from '../python/layouts';

export const AGENT_PATH = path.resolve(__dirname, '..', '..', '..', 'runtimes', 'ruby', 'agent', 'cowscope.rb');
/** The agent's extension that forks the call-cache probe, loaded after it with --cache-probe only */
const CACHE_PROBE_PATH = path.resolve(path.dirname(AGENT_PATH), 'cache_probe.rb');
/** The folder of the Python agent (cowscope.py): the bootstrap puts it on sys.path. */
export const PYTHON_AGENT_DIR = path.resolve(__dirname, '..', '..', '..', 'runtimes', 'python', 'agent');

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

export interface WsgiWorkload {
  app: string;
  requests: string[];
  count: number;
  /** where the user named the app, for messages about it (default: --wsgi APP) */
  named?: string;
}

export interface RubyRunOptions {
  ruby: string;
  /** the program reads cowscope's stdin (`cowscope run` where that is a pipe or a file); else /dev/null */
  stdin?: 'inherit';
  /** a Python interpreter: set, the program is a Python one (the Python agent; ruby is not used) */
  python?: string;
  /** the program: a script and its arguments (ignored with rack) */
  program: string[];
  rack?: RackWorkload;
  /** a Python WSGI app (module:callable) imported as the preload, and the requests each child sends it */
  wsgi?: WsgiWorkload;
  children: number;
  strategy: string;
  /** a Ruby file each child loads as its workload */
  workload?: string;
  heapMapPath: string;
  bootTimeoutMs: number;
  workloadTimeoutMs: number;
  /** where the timeout was set, for the messages that say to raise it (budget: the config's field);
   *  default --timeout */
  timeoutNamed?: string;
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
  /** the largest heap map cowscope reads (bytes); default DEFAULT_MAX_HEAP_MAP */
  maxHeapMapBytes?: number;
  /** false: start the program with address-space randomisation off (the same layout every run) */
  aslr?: boolean;
  /** Ruby: fork and run the call-cache probe (kept where a marking GC empties every call cache) */
  cacheProbe?: boolean;
  /** called with the stopped children right before they are continued (fault tracing starts here) */
  beforeContinue?: (children: number[]) => void;
}

export interface ForkPoint {
  /** the Ruby version (a Ruby program) */
  ruby: string;
  /** the Python version (a Python program; ruby is then undefined) */
  python?: string;
  platform: string;
  engine: string;
  heapPageSize: number;
  slotSize: number;
  threads: { name: string; status: string }[];
  osThreads: number;
  gcCount: number;
  /** the GC heap's pages at the fork point, before the strategy (Ruby) */
  heapPages?: number;
}

/** A point of a child's Rack workload: `requests` served by `us` (CLOCK_MONOTONIC, µs). */
export interface RequestMark {
  requests: number;
  us: number;
}

/** When a Python child's collections ran: [start, stop, start, stop, ...] (CLOCK_MONOTONIC µs), and,
 *  where the agent stopped recording, the start of the first collection it left out. */
export interface GcWindows {
  us: number[];
  untilUs?: number;
}

/** The agent's flat [served, µs, served, µs, ...] as marks, kept only while both ascend. */
function pairsOf(flat: number[]): RequestMark[] {
  const marks: RequestMark[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const last = marks[marks.length - 1];
    if (last && (flat[i] <= last.requests || flat[i + 1] < last.us)) break;
    marks.push({ requests: flat[i], us: flat[i + 1] });
  }
  return marks;
}

interface AgentEvent {
  event: string;
  pid: number;
  [key: string]: unknown;
}

/** The control protocol this driver speaks; the agent says its own in its first message (hello). */
export const AGENT_PROTOCOL = 2;
/** The longest line the agent may send (bytes, newline excluded). */
export const MAX_MESSAGE = 1024 * 1024;
/** How much of the program's stderr is kept for error messages (bytes). */
const STDERR_TAIL_BYTES = 8192;

// ---- validation of the agent's messages: every field a message may carry, with its type ----

type Check = (v: unknown) => boolean;
const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const seconds: Check = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const str =
  (max: number): Check =>
  (v) =>
    typeof v === 'string' && v.length <= max;
const optional =
  (c: Check): Check =>
  (v) =>
    v === undefined || c(v);
const arrayOf =
  (c: Check, max: number): Check =>
  (v) =>
    Array.isArray(v) && v.length <= max && v.every(c);
const record = (fields: Record<string, Check>): Check => (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.entries(fields).every(([k, c]) => c((v as Record<string, unknown>)[k]));

const TEXT = 4096;
/** The most request marks a child sends (the agent's REQUEST_MARKS): pairs of requests served and CLOCK_MONOTONIC µs. */
const REQUEST_MARKS = 64;
/** The most collections whose start and stop a Python child reports (the agent's GC_WINDOWS): CLOCK_MONOTONIC µs. */
const GC_WINDOWS = 1024;
/** Every event the agent may send, and its fields (besides event and pid). Unknown fields are ignored. */
const AGENT_EVENTS: Record<string, Record<string, Check>> = {
  hello: { protocol: int(0), ruby: str(64) },
  fork_point: {
    ruby: str(64),
    platform: str(256),
    engine: str(64),
    heapPageSize: int(1, 1 << 30),
    slotSize: int(1, 1 << 20),
    threads: arrayOf(record({ name: str(TEXT), status: str(64) }), 100_000),
    osThreads: int(1),
    gcCount: int(0),
    heapPages: optional(int(0)),
  },
  strategy: { name: str(TEXT), label: str(TEXT), seconds, steps: arrayOf(record({ name: str(64), label: str(TEXT), seconds }), 1000) },
  heap_map: { path: str(TEXT), seconds, bytes: int(0) },
  forked: { twin: int(1), children: arrayOf(int(1), 64), heapAllocatableBytes: optional(int(0)), workloadRegistered: optional((v) => typeof v === 'boolean'), cacheProbe: optional(int(1)), heapMapWriter: optional(int(1)) },
  done: { requests: optional(int(0)), requestMarks: optional(arrayOf(int(0), 2 * (REQUEST_MARKS + 1))), gcRuns: optional(int(0)), gcFullRuns: optional(int(0)), gcMarks: optional(int(0)), gcCompactions: optional(int(0)), gcFreedBlocks: optional(int(0)), gcAutoRuns: optional(int(0)), gcWindows: optional(arrayOf(int(0), 2 * GC_WINDOWS)), gcWindowsUntil: optional(int(0)), allocated: optional(int(0)), allocatedSteady: optional(int(0)), heapGrownBytes: optional(int(0)), gcOff: optional(int(0, 1)) },
  error: { error: str(64 * 1024), where: optional(str(64 * 1024)), heapMapWriter: optional((v) => v === true) },
  exited: { status: int(-(2 ** 31), 2 ** 31 - 1), where: optional(str(64 * 1024)) },
};

/** The Python agent's events: the same protocol, with the interpreter's version named python. */
const PYTHON_EVENTS: Record<string, Record<string, Check>> = {
  ...AGENT_EVENTS,
  hello: { protocol: int(0), python: str(64) },
  fork_point: (({ ruby, ...rest }) => ({ ...rest, python: ruby }))(AGENT_EVENTS.fork_point),
};

/** Why a parsed message cannot be used, or undefined when it is well-formed. */
export function invalidAgentMessage(m: unknown, events: Record<string, Record<string, Check>> = AGENT_EVENTS): string | undefined {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'not a JSON object';
  const e = m as Record<string, unknown>;
  if (typeof e.event !== 'string') return 'no event name';
  const fields = events[e.event];
  if (!fields) return `unknown event ${JSON.stringify(e.event.slice(0, 40))}`;
  if (!int(1)(e.pid)) return `event ${e.event}: pid is not a process id`;
  for (const [name, check] of Object.entries(fields)) if (!check(e[name])) return `event ${e.event}: field ${name} is missing or of the wrong type`;
  return undefined;
}

/** What the Python bootstrap writes to the control channel (fd 3) before exiting when the interpreter is
 *  older than the agent runs on: a plain line, as the agent's JSON protocol starts later. On the channel,
 *  not the program's stderr (which passes through): the user gets cowscope's one line, not two. */
const TOO_OLD = `cowscope agent: needs CPython ${PYTHON_OLDEST.join('.')} or newer, not `;

/** The agent's source, which the bootstrap runs from its compiled code when it can (compilePythonAgent). */
const PYTHON_AGENT_SOURCE = path.join(PYTHON_AGENT_DIR, 'cowscope.py');

/** Compiles the agent with the program's interpreter into `out` (its code object, marshalled), in a process
 *  of its own; `out`, or undefined where that fails (not a Python 3, say: the bootstrap then imports the
 *  source and says what is wrong). Compiling in the program's process leaves the compiler's freed memory
 *  in its heap, megabytes of free chunks that the program's preload does not all refill and a child's
 *  mallocs then take on shared pages (QA: ~300 pages of alloc.malloc a child, 3.11-3.13, where the program
 *  alone has none; the agent's folder holds no __pycache__ where bytecode is not written, as with
 *  PYTHONDONTWRITEBYTECODE or a read-only install). In the run's own folder: no other user's file is run.
 *  -I -S: none of the user's environment or site modules runs in it. */
export function compilePythonAgent(python: string, out: string): string | undefined {
  const code = 'import sys, marshal; f = open(sys.argv[1], "rb"); c = compile(f.read(), sys.argv[1], "exec"); f.close(); o = open(sys.argv[2], "xb"); o.write(marshal.dumps(c)); o.close()';
  const r = spawnSync(python, ['-I', '-S', '-c', code, PYTHON_AGENT_SOURCE, out], { stdio: 'ignore', timeout: 60_000 });
  return r.status === 0 && fs.existsSync(out) ? out : undefined;
}

/** A Python command line: the interpreter's own options, then the bootstrap that loads the agent and
 *  runs the script (the first word that is not an option) with its arguments as the program. compiled:
 *  the agent's code compiled beforehand (compilePythonAgent), run as the module cowscope instead of an
 *  import of its source. */
export function pythonArgs(program: string[], wsgi = false, compiled?: string): string[] {
  // --wsgi: no script (the program is the interpreter's options only); the agent imports the app
  const script = wsgi ? program.length : pythonScriptIndex(program);
  // The version check comes first, in syntax Python 2 parses too: the agent itself is Python 3.8+.
  const check = `sys.version_info >= (${PYTHON_OLDEST.join(', ')}) or (__import__("os").write(3, ("${TOO_OLD}%s\\n" % sys.version.split()[0]).encode()), sys.exit(3))`;
  const load = compiled
    ? `import marshal; cowscope = type(sys)("cowscope"); cowscope.__file__ = ${JSON.stringify(PYTHON_AGENT_SOURCE)}; sys.modules["cowscope"] = cowscope; f = open(${JSON.stringify(compiled)}, "rb"); exec(marshal.loads(f.read()), cowscope.__dict__); f.close(); del f`
    : 'import cowscope';
  const bootstrap = `import sys; ${check}; sys.path.insert(0, ${JSON.stringify(PYTHON_AGENT_DIR)}); ${load}; cowscope.${wsgi ? 'wsgi_main' : 'run_main'}()`;
  return [...program.slice(0, script).filter((w) => w !== '--'), '-c', bootstrap, ...program.slice(script)];
}

/** Python options whose value is the next word (`-X dev`, `-W error`). */
const PYTHON_TAKES_VALUE = new Set(['-X', '-W', '--check-hash-based-pycs']);

/** Index of the script in a Python command line after the interpreter (-1 with -c or -m, or none). */
export function pythonScriptIndex(words: string[]): number {
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '-c' || words[i] === '-m') return -1;
    if (PYTHON_TAKES_VALUE.has(words[i])) i++;
    else if (words[i] === '--') return i + 1 < words.length ? i + 1 : -1;
    else if (!words[i].startsWith('-') || words[i] === '-') return i;
  }
  return -1;
}

/** An exception's text on one line: a message of several lines (Ruby's KeyError with did_you_mean's
 *  "Did you mean?" under it, a Python message with line breaks) has its lines joined by "; ". An error is
 *  one line, escaped as a whole (cli/errors.ts), so a line break left in would print as \x0a. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l)
    .join('; ');
}

/** The signal's name for its number (SIGKILL for 9). */
function signalName(signo: number): string {
  return Object.entries(os.constants.signals).find(([, n]) => n === signo)?.[0] ?? `signal ${signo}`;
}

/** "exited with status 7", "was killed by SIGKILL", from a waitpid(2) status. */
function describeWaitStatus(status: number | undefined): string {
  if (status === undefined) return 'ended (its exit status is unknown)';
  const sig = status & 0x7f;
  if (sig === 0) return `exited with status ${(status >> 8) & 0xff}`;
  return `was killed by ${signalName(sig)}`;
}

export type Phase = 'boot' | 'fork' | 'workload' | 'capture' | 'done';
const PHASE_TEXT: Record<Phase, string> = {
  boot: 'before the fork point',
  fork: 'at the fork (strategy, heap map, forking the twin and children)',
  workload: 'during the workload',
  capture: 'while cowscope read the processes after the workload',
  done: 'after the measurement',
};

/** The Ruby agent's heap-map sibling, as messages name it. */
const HEAP_MAP_WRITER = (pid: number) => `the heap map's writer (pid ${pid}, a fork of the program that runs ObjectSpace.dump_all)`;

/** A death noticed: who and how. */
interface Death {
  pid: number;
  /** waitpid(2) status; undefined when the process was already gone (reaped by someone else) */
  status: number | undefined;
  phase: Phase;
  at: number;
}

/** How long a noticed death waits for the agent's own error report about it before it is reported. */
const DEATH_GRACE_MS = 100;

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
  /** the call-cache probe (Ruby, where a marking GC empties every call cache): a child that runs a full GC,
   *  then the workload, once the children are done; 0: none */
  cacheProbe = 0;
  /** the Ruby agent's heap-map sibling, which reports the map itself (0: the program reports it, as the
   *  Python agent does, having written it before the fork) */
  heapMapWriter = 0;
  /** Rack requests each child answered (0 for other workloads) */
  readonly requestsServed = new Map<number, number>();
  /** per child, after some of its Rack requests: how many it had served and when (CLOCK_MONOTONIC µs) */
  readonly requestMarks = new Map<number, RequestMark[]>();
  /** GC runs of each child during the workload */
  readonly gcRuns = new Map<number, number>();
  /** collections of the oldest generation among them (the Python agent reports it: only those visit
   *  every object of the fork-time image) */
  readonly gcFullRuns = new Map<number, number>();
  /** the GCs whose marking ran whole in the child (the Ruby agent reports it) */
  readonly gcMarks = new Map<number, number>();
  readonly gcCompactions = new Map<number, number>();
  /** objects the child's Rack workload allocated, and those of its later rounds scaled to every round
   *  (what a run after a first allocates; the Ruby agent reports them for two rounds or more) */
  readonly allocated = new Map<number, { all: number; steady: number }>();
  /** the bytes of GC heap the child added (the Ruby agent reports it) */
  readonly heapGrown = new Map<number, number>();
  /** 1: the child's GC was off as its workload ended (GC.disable; the Ruby agent reports it) */
  readonly gcOff = new Map<number, number>();
  /** the bytes of GC heap the program could still add at the fork before a GC had to run (Ruby) */
  heapAllocatableAtFork: number | undefined;
  /** a Cowscope.workload block (cowscope.workload function) was registered when the children were
   *  forked, after the strategy (a custom step may register it); undefined: the agent did not say */
  workloadRegistered: boolean | undefined;
  /** pymalloc blocks the child's automatic collections freed (the Python agent reports it) */
  readonly gcFreedBlocks = new Map<number, number>();
  /** the child's collections the collector started itself, not gc.collect() (the Python agent reports it) */
  readonly gcAutoRuns = new Map<number, number>();
  /** when the child's collections ran, CLOCK_MONOTONIC µs (the Python agent reports them) */
  readonly gcWindows = new Map<number, GcWindows>();
  /** where the run is: deaths are reported with it */
  phase: Phase = 'boot';
  readonly maxHeapMapBytes: number;
  private readonly events: AgentEvent[] = [];
  private wake: (() => void) | undefined;
  private exited: { code: number | null; signal: string | null; phase: Phase } | undefined;
  private stderrTail = '';
  /** resolves when the program's stderr is closed (it and everything holding the pipe exited) */
  private stderrClosed: Promise<void> = Promise.resolve();
  private stdoutClosed: Promise<void> = Promise.resolve();
  private controlClosed: Promise<void> = Promise.resolve();
  /** the program reported its fork point: a death noticed before that line was read is still at the fork */
  private forkPointSeen = false;
  private readonly control: Readable & Writable;
  /** the first malformed, oversized or unexpected message of the agent: the run ends with it */
  private protocolError: SessionError | undefined;
  private helloSeen = false;
  /** deaths of the twin and the children, as noticed (pidfd, or a check of /proc) */
  private readonly deaths = new Map<number, Death>();
  private readonly unwatch: (() => void)[] = [];
  private aborting = false;
  /** when the program was started and when each of its events arrived (performance.now(), ms): --debug */
  readonly eventAt: Record<string, number> = { spawn: performance.now() };
  /** what the messages of a step that took too long tell to raise */
  private get timeoutNamed(): string {
    return this.opts.timeoutNamed ?? '--timeout';
  }

  private constructor(
    readonly proc: ChildProcess,
    private readonly opts: RubyRunOptions,
  ) {
    this.maxHeapMapBytes = opts.maxHeapMapBytes ?? DEFAULT_MAX_HEAP_MAP;
    this.control = proc.stdio[3] as unknown as Readable & Writable;
    this.control.on('error', () => undefined); // EPIPE after the program died: seen through 'exit'
    this.readLines(this.control);
    this.stderrClosed = new Promise((resolve) => proc.stderr!.once('close', () => resolve()));
    this.stdoutClosed = new Promise((resolve) => proc.stdout!.once('close', () => resolve()));
    this.controlClosed = new Promise((resolve) => this.control.once('close', () => resolve()));
    // The program's output passes through as it comes; only a bounded tail is kept for messages.
    proc.stderr!.on('data', (d: Buffer) => {
      opts.output.write(d);
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    proc.stdout!.on('data', (d: Buffer) => opts.output.write(d));
    proc.on('exit', (code, signal) => {
      this.exited ??= { code, signal, phase: this.programGone?.phase ?? this.phase };
      this.exitedAt ??= Date.now();
      this.wakeUp();
    });
    proc.on('error', () => {
      this.exited ??= { code: null, signal: null, phase: this.phase }; // never started: nothing to wait for
      this.exitedAt ??= Date.now();
      this.wakeUp();
    });
  }

  /** Starts the program. Call ready() next; abort() whenever anything fails. */
  static spawn(opts: RubyRunOptions): RubySession {
    setChildSubreaper();
    const config = {
      fd: 3,
      protocol: AGENT_PROTOCOL,
      cowscopePid: process.pid,
      children: opts.children,
      strategy: opts.strategy,
      heapMap: opts.heapMapPath,
      workload: opts.workload,
      rack: opts.rack?.config,
      wsgi: opts.wsgi?.app,
      requests: opts.rack?.requests ?? opts.wsgi?.requests,
      requestCount: opts.rack?.count ?? opts.wsgi?.count,
      traceAllocations: opts.traceAllocations,
      prewarm: opts.prewarm,
      beforeFork: opts.beforeFork,
      // the Python agent's offsets come from the one version table (runtimes/python/layouts.ts)
      ...(opts.python ? { layouts: AGENT_LAYOUTS } : {}),
    };
    const probe = opts.cacheProbe ? ['-r', CACHE_PROBE_PATH] : [];
    // The Python agent compiled beforehand in a process of its own, into the run's private folder (no
    // other user's file is run), so that its compiler leaves nothing in the program's heap. (The Ruby
    // agent loaded the same way, from to_binary, moved other programs' GCs and layouts: docs/ruby.md.)
    const args = opts.python
      ? pythonArgs(opts.program, !!opts.wsgi, compilePythonAgent(opts.python, path.join(path.dirname(opts.heapMapPath), 'cowscope-agent.marshal')))
      : ['-r', AGENT_PATH, ...probe, ...(opts.rack ? ['-e', 'Cowscope.rack_main'] : opts.program)];
    // Its own process group: everything the program starts (heap-map sibling, twin, children, whatever a
    // workload spawns) can be killed at once, and a Ctrl-C in the terminal reaches cowscope only.
    // The personality flag is per thread and inherited at fork: set it around this synchronous spawn only.
    const randomized = opts.aslr === false ? setAddressRandomization(false) : undefined;
    try {
      const proc = spawn(opts.python ?? opts.ruby, args, {
        stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe'],
        env: { ...process.env, COWSCOPE_CONFIG: JSON.stringify(config) },
        cwd: opts.cwd,
        detached: true,
      });
      return new RubySession(proc, opts);
    } finally {
      if (randomized !== undefined) setAddressRandomization(randomized);
    }
  }

  /** Resolves once the program reached the fork point and the twin and children are stopped. */
  async ready(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.proc.once('spawn', resolve);
      this.proc.once('error', (e) =>
        reject(
          new SessionError(
            this.opts.python
              ? `cannot start ${this.opts.python}: ${e.message}: install Python (apt-get install python3) or pass --python PATH`
              : `cannot start ${this.opts.ruby}: ${e.message}: install Ruby (apt-get install ruby) or pass --ruby PATH`,
          ),
        ),
      );
    });
    await this.boot();
  }

  /** JSON lines of the control channel, each at most MAX_MESSAGE bytes; a longer one ends the run. */
  private readLines(input: Readable): void {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    input.on('data', (chunk: Buffer) => {
      let start = 0;
      while (!this.protocolError) {
        const nl = chunk.indexOf(10, start);
        const part = chunk.subarray(start, nl < 0 ? chunk.length : nl);
        if (pendingBytes + part.length > MAX_MESSAGE) {
          pending = [];
          pendingBytes = 0;
          this.refuse(`a message longer than ${describeBytes(MAX_MESSAGE)} on the control channel`);
          return;
        }
        if (nl < 0) {
          if (part.length) {
            pending.push(Buffer.from(part));
            pendingBytes += part.length;
          }
          return;
        }
        const line = (pending.length ? Buffer.concat([...pending, part]) : part).toString('utf8');
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
        if (line.trim()) this.onLine(line);
      }
    });
  }

  private onLine(line: string): void {
    if (this.opts.python && line.startsWith(TOO_OLD)) {
      this.protocolError ??= new SessionError(
        `cowscope runs CPython ${PYTHON_OLDEST.join('.')} or newer, and ${this.opts.python} is ${line.slice(TOO_OLD.length).trim().slice(0, 40)}: give another interpreter (-- python3.11 app.py, or --python PATH)`,
      );
      this.wakeUp();
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.refuse(`a line that is not JSON (${JSON.stringify(line.slice(0, 60))}) on the control channel`);
      return;
    }
    const bad = invalidAgentMessage(message, this.opts.python ? PYTHON_EVENTS : AGENT_EVENTS);
    if (bad) {
      this.refuse(`a malformed message (${bad})`);
      return;
    }
    const e = message as AgentEvent;
    if (e.event === 'fork_point' && e.pid === this.proc.pid) this.forkPointSeen = true;
    if (!this.helloSeen) {
      if (e.event !== 'hello') {
        this.protocolError = new SessionError(
          `the agent did not announce its control protocol (its first message was ${e.event}): it is not the agent of this cowscope; reinstall cowscope (npm ci) and do not load another cowscope.rb (RUBYOPT)`,
        );
        this.wakeUp();
        return;
      }
      if (e.protocol !== AGENT_PROTOCOL) {
        this.protocolError = new SessionError(
          `the agent speaks control protocol ${e.protocol}, this cowscope speaks ${AGENT_PROTOCOL}: use the agent that ships with this cowscope (reinstall it with npm ci; do not load another cowscope.rb through RUBYOPT)`,
        );
        this.wakeUp();
        return;
      }
      this.helloSeen = true;
      return;
    }
    if (e.event === 'hello') {
      this.refuse('a second hello');
      return;
    }
    if (e.pid === this.proc.pid) this.eventAt[e.event] ??= performance.now();
    this.events.push(e);
    this.wakeUp();
  }

  private refuse(what: string): void {
    this.protocolError ??= new SessionError(
      `the agent sent ${what}: the program must not write to cowscope's control channel (fd 3), and the agent must be the one of this cowscope (reinstall with npm ci)`,
    );
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, ms));
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** What a usage error of the agent is about, as the user gave it. */
  private usageSubject(): string {
    if (this.opts.rack) return `--rack ${this.opts.rack.config}`;
    return this.opts.wsgi?.named ?? `--wsgi ${this.opts.wsgi?.app}`;
  }

  /** Waits for the next event matching `want`, failing on agent errors, deaths, bad messages or timeout. */
  private async next(want: (e: AgentEvent) => boolean, deadline: number, what: () => string): Promise<AgentEvent> {
    for (;;) {
      if (this.protocolError) throw this.protocolError;
      const i = this.events.findIndex((e) => want(e) || e.event === 'error' || e.event === 'exited');
      if (i >= 0) {
        const e = this.events.splice(i, 1)[0];
        if (e.event === 'error') {
          // The program reports its exception before Ruby prints it and exits: let that output through.
          if (e.pid === this.proc.pid) await this.outputDone(2000);
          // usage: the agent refused what cowscope was given (a WSGI app that is not there, --rack without
          // the rack gem), after where it was named
          if (e.usage) throw new SessionError(`${this.usageSubject()}: ${oneLine(String(e.error))}`);
          // Ruby 3.1 prints a syntax error's place and text itself, then raises "compile error": name them
          const parse = /SyntaxError: compile error/.test(String(e.error)) ? /^(\S+:\d+): (.*syntax error.*)$/m.exec(this.stderrTail) : null;
          if (parse) throw new SessionError(`${this.who(e.pid)} raised SyntaxError: ${oneLine(parse[2])} (${oneLine(parse[1])})`);
          // (the heap map's writer says who it is: its error may come before `forked` names it)
          throw new SessionError(`${e.heapMapWriter ? HEAP_MAP_WRITER(e.pid) : this.who(e.pid)} raised ${oneLine(String(e.error))}${e.where ? ` (${oneLine(String(e.where))})` : ''}`);
        }
        if (e.event === 'exited')
          throw new SessionError(`the program called exit (status ${e.status}) before the fork point${e.where ? ` at ${e.where}` : ''}: nothing to measure; remove the exit or call ${this.forkPointCall} before it`);
        return e;
      }
      // A death is reported after a short grace, so that the agent's own report of it (an exception) wins.
      const first = this.firstDeathAt();
      if (first !== undefined) {
        const left = first + DEATH_GRACE_MS - Date.now();
        if (left <= 0) throw await this.deathFailure();
        await this.sleep(left);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new SessionError(what());
      await this.sleep(left);
    }
  }

  /** When the first death was noticed (the program's exit included), if any. */
  private firstDeathAt(): number | undefined {
    this.noticeDeaths();
    const times = this.failedDeaths().map((d) => d.at);
    if (this.exited || this.programGone) times.push(this.exitedAt ?? Date.now());
    return times.length ? Math.min(...times) : undefined;
  }

  private exitedAt: number | undefined;

  /** Waits (at most ms) until the program exited and its stderr and control channel were read to the end
   *  (its last report may arrive after its death is noticed). */
  private async outputDone(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([this.stderrClosed, this.controlClosed]), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  private who(pid: number): string {
    if (pid === this.proc.pid) return 'the program';
    if (pid === this.twin) return `the twin (${pid})`;
    if (pid === this.cacheProbe) return `the call-cache probe (${pid})`;
    if (pid === this.heapMapWriter) return HEAP_MAP_WRITER(pid);
    if (this.children.includes(pid)) return `child ${pid}`;
    return `process ${pid}`;
  }

  /** Watches the twin and the children: each death is noticed at once. */
  private watch(pids: number[]): void {
    for (const pid of pids) {
      try {
        this.unwatch.push(watchExit(pid, () => this.noteDeath(pid)));
      } catch {
        this.noteDeath(pid); // gone already
      }
    }
  }

  private noteDeath(pid: number): void {
    if (this.deaths.has(pid) || this.aborting || this.phase === 'done') return;
    const s = statOf(pid);
    // A zombie still holds its exit status (stat field 52); a process reaped by someone else does not.
    this.deaths.set(pid, { pid, status: s && (s.state === 'Z' || s.state === 'X') ? s.exitCode : undefined, phase: this.phase, at: Date.now() });
    this.wakeUp();
  }

  /** Checks /proc for deaths the watches have not reported yet (the program's too). */
  private noticeDeaths(): void {
    if (this.aborting || this.phase === 'done') return;
    for (const pid of this.agentForks()) {
      if (!pid || this.deaths.has(pid)) continue;
      const s = statOf(pid);
      if (!s || s.state === 'Z' || s.state === 'X') this.noteDeath(pid);
    }
    // The program's exit reaches Node a little later than a pidfd; its zombie tells already.
    if (!this.exited && !this.programGone && this.proc.pid) {
      const s = statOf(this.proc.pid);
      if (s && (s.state === 'Z' || s.state === 'X')) {
        const status = s.exitCode;
        const sig = status === undefined ? 0 : status & 0x7f;
        this.programGone = { code: status === undefined || sig ? null : (status >> 8) & 0xff, signal: sig ? signalName(sig) : null, phase: this.phase };
        this.exitedAt ??= Date.now();
      }
    }
  }

  /** The program's death as seen in /proc before Node reaped it (Node's 'exit' sets exited). */
  private programGone: { code: number | null; signal: string | null; phase: Phase } | undefined;

  /** The error for what died, if anything did: the program first (its twin and children die with it),
   *  then a child, then the twin. */
  deathError(): SessionError | undefined {
    this.noticeDeaths();
    if (this.exited || this.programGone) return this.programDeath();
    const deaths = this.failedDeaths();
    const d = deaths.find((x) => x.pid !== this.twin) ?? deaths[0];
    if (!d) return undefined;
    const how = describeWaitStatus(d.status);
    const where = PHASE_TEXT[d.phase];
    if (d.pid === this.heapMapWriter) {
      const fix =
        d.status !== undefined && (d.status & 0x7f) === os.constants.signals.SIGXFSZ
          ? "the program's file size limit (RLIMIT_FSIZE, ulimit -f) is below the map's size: raise it, or lift it for the run"
          : 'something outside the program killed it (the OOM killer? see dmesg); run again';
      return new SessionError(`${HEAP_MAP_WRITER(d.pid)} ${how} ${where}, before it finished the map: ${fix}`);
    }
    if (d.pid === this.twin)
      return new SessionError(
        `the twin (pid ${d.pid}, the stopped fork-time image) ${how} ${where}: nothing else may signal the program's processes while cowscope measures; run again`,
      );
    const fix =
      d.status !== undefined && (d.status & 0x7f) === 0
        ? `the workload must return normally (no ${this.opts.python ? 'os._exit' : 'exit!'} or exec in a child): remove that call`
        : 'something outside the workload killed it (the OOM killer? see dmesg) or the workload signalled its own process; run again';
    return new SessionError(`${d.pid === this.cacheProbe ? `the call-cache probe ${d.pid} (a child that runs a full GC, then the workload)` : `child ${d.pid}`} ${how} ${where}: ${fix}`);
  }

  /** deathError, once the program's last output (when it is the one that died) was read. */
  private async deathFailure(): Promise<SessionError> {
    if ((this.programGone ?? this.exited)?.phase === 'boot') await this.outputDone(1000);
    // what the control channel said meanwhile (a too-old Python's line) explains the death better
    if (this.protocolError) return this.protocolError;
    return this.deathError()!;
  }

  private programDeath(): SessionError {
    const gone = this.programGone ?? this.exited!;
    // its death can be noticed before its fork_point report was read (both came at once)
    const x = gone.phase === 'boot' && this.forkPointSeen ? { ...gone, phase: 'fork' as const } : gone;
    if (x.phase === 'boot') return this.earlyExit(x);
    const how = x.signal ? `was killed by ${x.signal}` : `exited with status ${x.code}`;
    const fix = x.signal
      ? `something killed the Ruby parent (${x.phase === 'workload' ? 'does the workload signal Process.ppid?' : 'the program itself?'} the OOM killer? see dmesg); run again`
      : 'the parent must wait at the fork point until cowscope releases it: check that no thread of the program calls exit or exit! after the fork point';
    const family = this.twin ? '; its twin and children were killed with it' : '';
    return new SessionError(`the program (pid ${this.proc.pid}) ${how} ${PHASE_TEXT[x.phase]}${family}: ${fix}`);
  }

  /** The error to report for a failure e: a death noticed now explains it better than its symptom (a
   *  read of a process that is gone). Call before abort(). */
  failureCause(e: unknown): unknown {
    if (e instanceof SessionError || e instanceof HeapMapError) return e;
    return this.deathError() ?? e;
  }

  private earlyExit(x: { code: number | null; signal: string | null }): SessionError {
    const how = x.signal ? `was killed by ${x.signal}` : `exited with status ${x.code}`;
    const last = this.stderrTail
      .split('\n')
      .filter((l) => l.trim())
      .slice(-1)[0];
    // The agent says hello as it loads, before the program's first line: without it, the interpreter is
    // not one the agent runs on (--python naming a Ruby, --ruby a Python) or could not load it.
    if (!this.helloSeen) {
      const [kind, fix] = this.opts.python ? [`a CPython ${PYTHON_OLDEST.join('.')} or newer`, '--python PATH, or -- python3 app.py'] : ['a Ruby', '--ruby PATH, or -- ruby app.rb'];
      // (an interpreter of another language quotes the Python bootstrap it was given: ~300 characters of
      // ours, which say nothing to the user; QA)
      const said = last?.trim().replace(/import sys; .*? cowscope\.\w+_main\(\)/, "<cowscope's bootstrap>").slice(0, 200);
      return new SessionError(
        `${this.opts.python ?? this.opts.ruby} ${how} before cowscope's agent loaded${said ? ` (last error line: ${said})` : ''}: check that it is ${kind} interpreter (${fix})`,
      );
    }
    return new SessionError(
      `the program ${how} before the fork point${last ? ` (last error line: ${last.trim().slice(0, 500)})` : ''}: cowscope forks at the end of the main script, at ${this.forkPointCall}${this.opts.python ? '' : ', or after loading --rack'}`,
    );
  }

  private async boot(): Promise<void> {
    const deadline = Date.now() + this.opts.bootTimeoutMs;
    const late = () => `the program did not reach the fork point within ${this.opts.bootTimeoutMs / 1000} s: raise ${this.timeoutNamed}, or check that it does not wait for input or run a server loop before the fork point`;
    const fromProgram = (e: AgentEvent, name: string) => e.event === name && e.pid === this.proc.pid;
    this.forkPoint = (await this.next((e) => fromProgram(e, 'fork_point'), deadline, late)) as unknown as ForkPoint;
    this.phase = 'fork';
    // Past the fork point the program has booted: what follows (the strategy, and for Python the heap
    // map, seconds per million objects) gets a --timeout of its own, and a message that says so.
    const seconds = this.opts.bootTimeoutMs / 1000;
    this.strategy = (await this.next(
      (e) => fromProgram(e, 'strategy'),
      Date.now() + this.opts.bootTimeoutMs,
      () => `the strategy did not finish within ${seconds} s after the program reached the fork point: raise ${this.timeoutNamed}`,
    )) as unknown as RubySession['strategy'];
    // The Ruby agent's heap map comes after `forked`, from the sibling `forked` names (it writes the map
    // while the children run: heapMapDone() waits for it); the Python agent's before, from the program.
    const forked = await this.next(
      (e) => fromProgram(e, 'forked'),
      Date.now() + this.opts.bootTimeoutMs,
      () => `the program did not fork within ${seconds} s after its strategy${this.opts.python ? ' (the heap map is written first: seconds per million objects)' : ''}: raise ${this.timeoutNamed}`,
    );
    const twin = forked.twin as number;
    const children = forked.children as number[];
    const probe = (forked.cacheProbe as number | undefined) ?? 0;
    const writer = (forked.heapMapWriter as number | undefined) ?? 0;
    if (forked.heapAllocatableBytes !== undefined) this.heapAllocatableAtFork = Number(forked.heapAllocatableBytes);
    if (forked.workloadRegistered !== undefined) this.workloadRegistered = forked.workloadRegistered === true;
    // cowscope signals and kills these pids: they must be the program's own children.
    for (const pid of [twin, ...children, ...(probe ? [probe] : []), ...(writer ? [writer] : [])]) {
      const s = statOf(pid);
      if (s && s.ppid !== this.proc.pid)
        throw new SessionError(`the agent named process ${pid} as its twin, child or heap-map writer, but its parent is ${s.ppid}, not the program ${this.proc.pid}: the program must not write to cowscope's control channel (fd 3)`);
    }
    if (children.length !== this.opts.children || new Set([twin, ...children, probe]).size !== children.length + 2)
      throw new SessionError(`the agent reported ${children.length} children for --children ${this.opts.children}: it is not the agent of this cowscope; reinstall cowscope (npm ci)`);
    this.twin = twin;
    this.children = children;
    this.heapMapWriter = writer;
    // The probe is wanted where a marking GC empties every call cache, unless the strategy runs such a GC
    // itself (its children refill the caches: blame sees it); elsewhere it goes at once (the agent reaps it).
    const marks = this.opts.strategy.split('+').some((st) => (MARKING_GC_STEPS as readonly string[]).includes(st));
    if (probe && (this.opts.python || marks || !layoutFor(this.forkPoint.ruby)?.markEmptiesCallCaches)) this.kill([probe]);
    else this.cacheProbe = probe;
    this.watch(this.agentForks());
    await this.waitStopped(this.forkedPids(), Date.now() + this.opts.bootTimeoutMs, 'stop at the fork');
  }

  /** Where the agent is told to write the heap map. */
  get heapMapPath(): string {
    return this.opts.heapMapPath;
  }

  /** Resolves once the agent reported the heap map complete (its sibling exited), checked: the path it
   *  was told, a regular file within the size limit. */
  async heapMapDone(): Promise<NonNullable<RubySession['heapMap']>> {
    if (this.heapMap) return this.heapMap;
    const timeout = this.opts.bootTimeoutMs;
    const late = () => `the program did not finish its heap map within ${timeout / 1000} s after the workload: raise ${this.timeoutNamed}`;
    const map = (await this.next((e) => this.isHeapMap(e), Date.now() + timeout, late)) as unknown as { path: string; seconds: number; bytes: number };
    if (path.resolve(map.path) !== path.resolve(this.opts.heapMapPath))
      throw new SessionError(`the agent wrote its heap map to ${map.path}, not to ${this.opts.heapMapPath} as told: it is not the agent of this cowscope; reinstall cowscope (npm ci)`);
    checkHeapMap(this.opts.heapMapPath, this.maxHeapMapBytes);
    this.heapMap = map;
    return map;
  }

  /** The heap map's report, from its writer (the Ruby agent's sibling) or else the program. */
  private isHeapMap(e: AgentEvent): boolean {
    return e.event === 'heap_map' && e.pid === (this.heapMapWriter || this.proc.pid);
  }

  /** The heap map's writer ends once it has reported the map: that exit is no death. */
  private writerReported(pid: number): boolean {
    return pid === this.heapMapWriter && (this.heapMap !== undefined || this.events.some((e) => this.isHeapMap(e)));
  }

  /** The deaths that end the run: all but the heap-map writer's after its report (read before the grace
   *  for deaths is over: it writes the report before it exits). */
  private failedDeaths(): Death[] {
    return [...this.deaths.values()].filter((d) => !this.writerReported(d.pid));
  }

  /** Polls until every pid is stopped (state T), as the agent's processes are when they wait. */
  private async waitStopped(pids: number[], deadline: number, what: string): Promise<void> {
    for (;;) {
      if (this.protocolError) throw this.protocolError;
      const running = pids.filter((p) => statOf(p)?.state !== 'T');
      if (!running.length) return;
      const first = this.firstDeathAt();
      if (first !== undefined && Date.now() >= first + DEATH_GRACE_MS) throw await this.deathFailure();
      if (Date.now() > deadline) throw new SessionError(this.stuck(running, `did not ${what}`));
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Where processes are stuck: state, wchan and threads, on one line (an error is one line: its text is
   *  escaped as a whole, so a line break would print as \x0a). */
  private stuck(pids: number[], what: string): string {
    return pids
      .map((pid) => {
        const s = statOf(pid);
        const threads = threadsOf(pid);
        const list = threads.map((t) => `${t.tid} ${t.comm} ${t.state}${t.wchan && t.wchan !== '0' ? ` in ${t.wchan}` : ''}`).join(', ');
        return `${this.who(pid)} ${what}: state ${s?.state ?? 'gone'}, ${threads.length} thread${threads.length === 1 ? '' : 's'} (${list})`;
      })
      .join('; ');
  }

  /** More than one thread at the fork point (the VM's own timer thread not counted; CPython has none). */
  multiThreadedAtFork(): boolean {
    const fp = this.forkPoint;
    return !!fp && (fp.threads.length > 1 || fp.osThreads - (fp.python ? 0 : vmOwnThreads(fp.ruby)) > 1);
  }

  /** How the program calls the fork point, in its own language. */
  private get forkPointCall(): string {
    return this.opts.python ? 'cowscope.fork_point()' : 'Cowscope.fork_point';
  }

  /** The runtime the program runs on. */
  get runtime(): 'ruby' | 'python' {
    return this.opts.python ? 'python' : 'ruby';
  }

  /** Lets the children run the workload. */
  go(): void {
    this.phase = 'workload';
    this.opts.beforeContinue?.(this.children);
    for (const pid of this.children) process.kill(pid, 'SIGCONT');
  }

  /** Waits until every child reported done and stopped again. */
  async waitDone(): Promise<void> {
    const deadline = Date.now() + this.opts.workloadTimeoutMs;
    const pending = new Set(this.children);
    const late = () =>
      this.stuck([...pending], `did not finish the workload within ${this.opts.workloadTimeoutMs / 1000} s`) +
      (this.multiThreadedAtFork()
        ? '; a child that waits for a thread started before the fork point hangs: that thread does not exist after fork'
        : `; raise ${this.timeoutNamed} if the workload needs longer, or see where it waits (the wait channels above)`);
    while (pending.size) {
      const done = await this.next((ev) => ev.event === 'done' && pending.has(ev.pid), deadline, late);
      this.requestsServed.set(done.pid, Number(done.requests ?? 0));
      if (Array.isArray(done.requestMarks) && done.requestMarks.length) this.requestMarks.set(done.pid, pairsOf(done.requestMarks as number[]));
      this.gcRuns.set(done.pid, Number(done.gcRuns ?? 0));
      if (done.gcFullRuns !== undefined) this.gcFullRuns.set(done.pid, Number(done.gcFullRuns));
      if (done.gcMarks !== undefined) this.gcMarks.set(done.pid, Number(done.gcMarks));
      if (done.gcCompactions !== undefined) this.gcCompactions.set(done.pid, Number(done.gcCompactions));
      if (done.allocated !== undefined && done.allocatedSteady !== undefined) this.allocated.set(done.pid, { all: Number(done.allocated), steady: Number(done.allocatedSteady) });
      if (done.heapGrownBytes !== undefined) this.heapGrown.set(done.pid, Number(done.heapGrownBytes));
      if (done.gcOff !== undefined) this.gcOff.set(done.pid, Number(done.gcOff));
      if (done.gcFreedBlocks !== undefined) this.gcFreedBlocks.set(done.pid, Number(done.gcFreedBlocks));
      if (done.gcAutoRuns !== undefined) this.gcAutoRuns.set(done.pid, Number(done.gcAutoRuns));
      if (Array.isArray(done.gcWindows) && done.gcWindows.length % 2 === 0)
        this.gcWindows.set(done.pid, { us: (done.gcWindows as number[]).map(Number), ...(done.gcWindowsUntil !== undefined ? { untilUs: Number(done.gcWindowsUntil) } : {}) });
      pending.delete(done.pid);
    }
    await this.waitStopped(this.children, deadline, 'stop after the workload');
    this.phase = 'capture';
  }

  /** Runs the call-cache probe (when the agent forked one): once the children are done, so that it takes
   *  no CPU from their workload; resolves when it has run the workload and stopped again (its call caches
   *  are read then), at once without a probe. */
  async runCacheProbe(): Promise<void> {
    if (!this.cacheProbe) return;
    const deadline = Date.now() + this.opts.workloadTimeoutMs;
    process.kill(this.cacheProbe, 'SIGCONT');
    await this.next(
      (ev) => ev.event === 'done' && ev.pid === this.cacheProbe,
      deadline,
      () => this.stuck([this.cacheProbe], `did not finish the workload within ${this.opts.workloadTimeoutMs / 1000} s after a full GC (the call-cache probe)`),
    );
    await this.waitStopped([this.cacheProbe], deadline, 'stop after the workload');
  }

  /** The twin, the children and the call-cache probe: every process the agent forked for cowscope. */
  private forkedPids(): number[] {
    return [this.twin, ...this.children, ...(this.cacheProbe ? [this.cacheProbe] : [])];
  }

  /** forkedPids and the heap map's writer: every fork of the agent's that cowscope watches and kills (the
   *  writer is never stopped, so it is not among those waited for at the fork). */
  private agentForks(): number[] {
    return [...this.forkedPids(), ...(this.heapMapWriter ? [this.heapMapWriter] : [])];
  }

  /** Normal end: children and twin are killed, the parent reaps them and exits. */
  async release(): Promise<void> {
    this.phase = 'done';
    this.kill(this.forkedPids());
    this.control.write('{"cmd":"release"}\n');
    await this.finish(5000);
  }

  /** Any failure: kill everything now and reap it. Safe to call more than once. */
  async abort(): Promise<void> {
    this.aborting = true;
    this.kill(this.agentForks());
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
      const orphans = [...new Set([...this.agentForks(), ...adoptedChildren()])].filter((pid) => pid && statOf(pid));
      if (!orphans.length) break;
      for (const pid of orphans) {
        this.kill([pid]);
        reap(pid);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const stop of this.unwatch.splice(0)) stop();
    this.control.destroy();
    // Everything the family printed passes through before the command goes on (the pipes close once no
    // process holds them; one that left the group and lives on holds them for at most a second here).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([this.stdoutClosed, this.stderrClosed]), new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }
}
