// cowscope run: a controlled fork of a real Ruby or Python program.
//   spawn with the agent (runtimes/ruby) -> fork point -> go -> workload done -> one Capture (gather/)
//   -> classify and blame once (analyzers/, blame/) -> render (cli/render) -> release and reap.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { RubyRunOptions, RubySession, pythonScriptIndex } from '../../runtimes/ruby/driver';
import { PYTHON_STRATEGY_STEPS } from '../../runtimes/python/layouts';
import { STRATEGY_STEPS, layoutFor } from '../../runtimes/ruby/layouts';
import type { Capture } from '../../native/capture';
import { which } from '../../native/machine';
import type { HeapMapFollower } from '../../runtimes/adapter';
import { didYouMean } from '../suggest';
import { ChildFaultTracing } from '../../gather/faults';
import type { RunAnalysis } from '../../analyzers/run-report';
import { UsageError, outputLost } from '../errors';
import { DEFAULT_MAX_HEAP_MAP } from '../../runtimes/ruby/heap-map';
import { escapeControl } from '../render/escape';
import { DEFAULT_TIMEOUT_SECONDS, EXAMPLE_PROGRAM, MAX_TIMEOUT_SECONDS, PYTHON_NAME, checkScript, scriptIndex, sizeLimit, wsgiSpecProblem } from '../args';
import { createRunDir, sweepRunDirs } from '../run-dirs';
import { Laps } from '../../gather/laps';
import { SPECS } from './specs';

// What runs after the program started is loaded once it started (it boots meanwhile): node loads these
// modules in ~50 ms, on the way to every measurement otherwise.
/* eslint-disable @typescript-eslint/no-var-requires */
const gatherModule = () => require('../../gather/run') as typeof import('../../gather/run');
const analyzerModule = () => require('../../analyzers/run-report') as typeof import('../../analyzers/run-report');
const renderModule = () => require('../render/run-output') as typeof import('../render/run-output');
const captureFileModule = () => require('../../native/capture-file') as typeof import('../../native/capture-file');
/* eslint-enable @typescript-eslint/no-var-requires */

export { STRATEGY_STEPS };

export function checkStrategy(spec: string, beforeFork: string | undefined): void {
  const steps = spec.split('+');
  for (const step of steps)
    if (!STRATEGY_STEPS.includes(step)) throw new UsageError(`unknown strategy step "${step}" in "${spec}"${didYouMean(step, STRATEGY_STEPS)}: use ${STRATEGY_STEPS.join(', ')}, joined with + (e.g. gc+coderange)`);
  if (steps.includes('custom') && !beforeFork) throw new UsageError('strategy custom needs --before-fork FILE.rb (the code to run before forking)');
}

/** The steps that run a full GC before the fork themselves (GC.start, GC.compact, Process.warmup): the
 *  call-cache probe measures what such a GC costs, and there it is what the children measure already. */
const FULL_GC_STEPS = ['gc', 'nakayoshi', 'compact', 'warmup', 'promote'];

/** --cache-probe with a step that runs a full GC itself: the agent forks no probe (the children measure that
 *  GC already), but loads the probe's file all the same, so that the run boots as the none run it is
 *  compared with (a boot without it lays out other call caches: 10 pages of icache.call fewer, 3.4.5).
 *  `run` says so on stderr (QA: it did nothing, silently); `compare` runs such strategies beside none. */
function warnCacheProbeUnused(args: RunArgs, command: 'run' | 'compare', output: NodeJS.WritableStream): void {
  const gcStep = args.strategy.split('+').find((step) => FULL_GC_STEPS.includes(step));
  if (args.cacheProbe === true && gcStep && command === 'run')
    output.write(`cowscope: --cache-probe: strategy ${args.strategy} runs a full GC itself (${gcStep}), so no call-cache probe runs; compare it with a --strategy none run that has one\n`);
}

/** --cache-probe on a Ruby whose full GC keeps call caches (3.1, 3.3), or one cowscope has no row for: the
 *  session forks no probe there (nothing it would measure); `run` says so once the version is known (QA:
 *  it was silent). Not with a full-GC strategy: warnCacheProbeUnused said why already. */
function cacheProbeNotRun(args: RunArgs, capture: Capture): string | undefined {
  const version = capture.runtime?.name === 'ruby' ? capture.runtime.version : undefined;
  if (args.cacheProbe !== true || !version || args.strategy.split('+').some((step) => FULL_GC_STEPS.includes(step))) return undefined;
  const layout = layoutFor(version);
  if (layout?.markEmptiesCallCaches) return undefined;
  const why = layout ? `Ruby ${version}'s full GC leaves the call caches as they are, so there is nothing to probe` : `Ruby ${version} is not in cowscope's version table, so whether its full GC empties call caches is not known`;
  return `cowscope: --cache-probe: no probe ran: ${why}\n`;
}

/** A --workload file in the other runtime's language (by its extension) fails only in the children, after
 *  the boot, or runs as the wrong language where it parses in both (QA): refused before anything runs. */
function checkWorkloadLanguage(workload: string | undefined, runtime: 'ruby' | 'python'): void {
  if (!workload) return;
  if (runtime === 'ruby' && /\.py$/.test(workload)) throw new UsageError(`--workload ${workload} is a Python file, and the program is Ruby: give a .rb file (the children load it)`);
  if (runtime === 'python' && /\.rb$/.test(workload)) throw new UsageError(`--workload ${workload} is a Ruby file, and the program is Python: give a .py file (the children run it)`);
}

/** The options only one strategy step reads: given with no strategy that has the step, nothing would use
 *  them, and the runs would measure other strategies than the one meant. */
const STEP_OPTIONS: { step: string; flag: string; value: (a: Pick<RunArgs, 'beforeFork' | 'prewarm'>) => unknown }[] = [
  { step: 'custom', flag: '--before-fork', value: (a) => a.beforeFork },
  { step: 'prewarm', flag: '--prewarm', value: (a) => a.prewarm },
];

/** Refuses a step's option (--before-fork, --prewarm) when no strategy has its step; `add(step)` says how
 *  to add the step on the command line at hand. */
export function checkStepOptionsUsed(strategies: string[], args: Pick<RunArgs, 'beforeFork' | 'prewarm'>, add: (step: string) => string): void {
  for (const { step, flag, value } of STEP_OPTIONS) {
    const given = value(args);
    if (given !== undefined && !strategies.some((s) => s.split('+').includes(step))) throw new UsageError(`${flag} ${given} runs only with the ${step} step: add it (${add(step)})`);
  }
}

export interface RunArgs {
  program?: string[];
  rack?: string;
  /** a Python WSGI app, module:callable, imported as the preload (the analogue of rack) */
  wsgi?: string;
  /** where the WSGI app was named, for messages about it (budget: the config's field; default --wsgi APP) */
  wsgiNamed?: string;
  request?: string[];
  requests: number;
  children: number;
  strategy: string;
  workload?: string;
  timeout: number;
  /** where the timeout was set, for messages about it (budget: the config's field); default --timeout */
  timeoutNamed?: string;
  traceAllocations: boolean;
  /** false (--no-aslr): the program starts with address-space randomisation off */
  aslr?: boolean;
  /** --cache-probe (Ruby 3.4): run the call-cache probe */
  cacheProbe?: boolean;
  /** sample every page fault of the children (perf_event_open) to name each copied page's first writer */
  traceFaults?: boolean;
  /** with the prewarm step: how many times the parent runs the workload first (default DEFAULT_PREWARM);
   *  undefined when not given, so that a --prewarm without the step is refused */
  prewarm?: number;
  beforeFork?: string;
  ruby: string;
  /** a Python interpreter: the program is a Python one */
  python?: string;
  save?: string;
  html?: string;
  /** the program's working folder; relative paths are checked against it (default: cowscope's) */
  cwd?: string;
  json: boolean;
  bytes: boolean;
  /** show what the tables leave out: all-zero columns and rows, causes of no page */
  all?: boolean;
  /** the largest heap map to read: a size (8GiB); default $COWSCOPE_MAX_HEAP_MAP, else 8 GiB */
  maxHeapMap?: string;
  /** run the bundled example program (examples/app.rb) */
  example?: boolean;
  /** print where the time went, step by step, to stderr */
  debug?: boolean;
}

/** The defaults of run's options that do not name the app: the option table below declares them, and
 *  commands that run an app themselves (init, budget) start from them. */
export const RUN_DEFAULTS = { timeout: DEFAULT_TIMEOUT_SECONDS, traceAllocations: false, ruby: 'ruby', json: false, bytes: false } as const;

function checkTimeout(seconds: number): void {
  if (!(seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS)) throw new UsageError(`--timeout must be a number of seconds above 0, at most ${MAX_TIMEOUT_SECONDS} (a day), not ${seconds}`);
}

/** How many times the prewarm step runs the workload in the parent when --prewarm is not given. Not a
 *  yargs default: a --prewarm given without the prewarm step is refused, so it must be told from none. */
export const DEFAULT_PREWARM = 1;

/** --max-heap-map, else $COWSCOPE_MAX_HEAP_MAP, else DEFAULT_MAX_HEAP_MAP. */
const maxHeapMapOf = (args: RunArgs): number => sizeLimit('--max-heap-map', args.maxHeapMap, 'COWSCOPE_MAX_HEAP_MAP', DEFAULT_MAX_HEAP_MAP, '8GiB or 512MiB');

function existingFile(file: string, what: string, base = process.cwd()): string {
  const full = path.resolve(base, file);
  if (!fs.existsSync(full)) throw new UsageError(`${what} ${file} does not exist: check the path`);
  if (!fs.statSync(full).isFile()) throw new UsageError(`${what} ${file} is ${fs.statSync(full).isDirectory() ? 'a folder' : 'not a regular file'}: name a file`);
  // the interpreter runs as this user: one that cannot read the file fails in its own words, after the
  // boot has started ("Permission denied -- app.rb (LoadError)", or the agent's open in a traceback)
  try {
    fs.accessSync(full, fs.constants.R_OK);
  } catch {
    throw new UsageError(`${what} ${file} is not readable by this user (uid ${process.getuid?.()}): make it readable (chmod a+r ${file}) or run cowscope as a user who can read it`);
  }
  return full;
}

/** A command of PATH given as the program (`cowscope run -- true`, `run gunicorn app:app`): run starts Ruby
 *  and Python programs only, and a name that is no file here would otherwise be "a script that does not
 *  exist". */
function notACommand(word: string, command: 'run' | 'compare', base = process.cwd()): void {
  const found = word.includes('/') || fs.existsSync(path.resolve(base, word)) ? null : which(word);
  if (!found) return;
  throw new UsageError(
    `${word} is a command (${found}), not a Ruby or Python program: cowscope ${command} starts a Ruby script (cowscope ${command} app.rb), a Python one (app.py, or -- python3 app.py) or an app (--rack config.ru, --wsgi module:app); to look at processes another program started, give cowscope inspect their pid`,
  );
}

/** Checks the arguments and turns them into what the Ruby driver needs. `command` is the one the user
 *  typed (run, compare): the messages that show a command line show that one. */
export function planRun(args: RunArgs, output: NodeJS.WritableStream, command: 'run' | 'compare' = 'run'): Omit<RubyRunOptions, 'heapMapPath'> & { traceFaults: boolean } {
  let program = [...(args.program ?? [])].map(String);
  if (args.example && (program.length || args.rack || args.wsgi)) throw new UsageError('--example runs the bundled example: give no program, --rack or --wsgi with it');
  if (args.example) program = [EXAMPLE_PROGRAM];
  // A Python program: `cowscope run -- python3 app.py`, `--python PATH`, a .py script, or --wsgi.
  let python = args.python;
  if (program.length && PYTHON_NAME.test(program[0])) [python, ...program] = program;
  else if (!python && program.length && program[0].endsWith('.py')) python = 'python3';
  if (args.wsgi && python === undefined) {
    if (program.length) throw new UsageError('--wsgi module:app is for Python apps: a Ruby (Rack) app goes with --rack config.ru');
    python = 'python3';
  }
  if (python !== undefined) return planPythonRun(args, python, program, output, command);
  let ruby = args.ruby;
  const rubyNamed = program.length > 0 && /(^|\/)ruby[\d.]*$/.test(program[0]);
  if (rubyNamed) [ruby, ...program] = program; // `cowscope run -- ruby app.rb`
  if (!which(ruby) && !fs.existsSync(ruby))
    throw new UsageError(ruby === 'ruby' ? 'no ruby on PATH: install it (apt-get install ruby) or pass --ruby PATH' : `no Ruby at ${ruby}: check the path (a Ruby built into /opt/rubies/ruby-X has it at /opt/rubies/ruby-X/bin/ruby)`);
  if (args.rack && program.length) throw new UsageError('give either a program or --rack config.ru, not both');
  if (!args.rack && !program.length)
    throw new UsageError(
      command === 'compare'
        ? 'give a program to compare strategies on (cowscope compare -- ruby app.rb), a Rack app (cowscope compare --rack config.ru), or --example for the bundled example'
        : 'give a program to run (cowscope run app.rb), a Rack app (cowscope run --rack config.ru), or --example for the bundled example',
    );
  const script = scriptIndex(program);
  // (a config.ru that is not there is a path to check, not a Rack app to run another way)
  if (script >= 0 && fs.existsSync(path.resolve(args.cwd ?? process.cwd(), program[script]))) checkScript(program[script], command);
  if (script === 0 && !rubyNamed) notACommand(program[0], command, args.cwd);
  if (script >= 0) program[script] = existingFile(program[script], 'the program', args.cwd);
  if (!Number.isInteger(args.children) || args.children < 1 || args.children > 64)
    throw new UsageError(`--children must be a whole number from 1 to 64, not ${args.children}`);
  checkStrategy(args.strategy, args.beforeFork);
  const prewarm = args.prewarm ?? DEFAULT_PREWARM;
  if (!Number.isInteger(prewarm) || prewarm < 1) throw new UsageError(`--prewarm must be a whole number of at least 1, not ${prewarm}`);
  checkTimeout(args.timeout);
  const requests = requestsOf(args, args.rack);
  checkWorkloadLanguage(args.workload, 'ruby');
  warnCacheProbeUnused(args, command, output);
  return {
    ruby,
    program,
    rack: args.rack ? { config: rackFile(args.rack, args.cwd), requests, count: args.requests } : undefined,
    children: args.children,
    strategy: args.strategy,
    workload: args.workload ? existingFile(args.workload, 'the workload', args.cwd) : undefined,
    bootTimeoutMs: args.timeout * 1000,
    workloadTimeoutMs: args.timeout * 1000,
    timeoutNamed: args.timeoutNamed,
    traceAllocations: args.traceAllocations,
    aslr: args.aslr !== false,
    traceFaults: args.traceFaults !== false,
    cacheProbe: args.cacheProbe === true,
    prewarm,
    beforeFork: args.beforeFork ? existingFile(args.beforeFork, 'the --before-fork file', args.cwd) : undefined,
    cwd: args.cwd,
    output: output as RubyRunOptions['output'],
    maxHeapMapBytes: maxHeapMapOf(args),
  };
}

/** The --rack file: Rack loads a .ru file as a rackup file, and requires any other, which must be Ruby
 *  defining the app's constant (app.rb: App); require loads no other name (memo.txt failed in the
 *  program with a LoadError). */
function rackFile(file: string, cwd: string | undefined): string {
  const full = existingFile(file, 'the Rack app', cwd);
  if (!/\.(ru|rb)$/.test(full)) throw new UsageError(`--rack ${file} is no rackup file: Rack loads a .ru file (config.ru), or requires a .rb one that defines the app's constant; rename it or name the config.ru`);
  return full;
}

/** --request (default GET /) and --requests, checked; only with an app to send them to (--rack, --wsgi). */
function requestsOf(args: RunArgs, app: string | undefined): string[] {
  if (!Number.isInteger(args.requests) || args.requests < 1) throw new UsageError(`--requests must be a whole number of at least 1, not ${args.requests}`);
  const requests = args.request?.length ? args.request.map(String) : ['GET /'];
  for (const r of requests)
    if (!/^[A-Z]+ \/\S*$/.test(r)) throw new UsageError(`--request "${r}" is not METHOD /path: write e.g. --request 'GET /users'`);
  if (!app && args.request?.length) throw new UsageError('--request goes with --rack config.ru (Ruby) or --wsgi module:app (Python)');
  // --requests has a default (1): one given without an app to send them to is refused all the same
  if (!app && args.requests !== 1) throw new UsageError('--requests goes with --rack config.ru (Ruby) or --wsgi module:app (Python): a program\'s children run its workload once');
  // the children of a Rack or WSGI app send the requests: a workload file would replace them
  if (app && args.workload) throw new UsageError(`--workload runs a file in the children instead of the requests of ${args.wsgi ? '--wsgi' : '--rack'}: give one or the other`);
  return requests;
}

/** planRun for a Python program: its interpreter, the script and the options a Python run has. */
function planPythonRun(args: RunArgs, python: string, program: string[], output: NodeJS.WritableStream, command: 'run' | 'compare'): Omit<RubyRunOptions, 'heapMapPath'> & { traceFaults: boolean } {
  if (!which(python) && !fs.existsSync(python))
    throw new UsageError(`no Python at ${python}: ${args.python === python ? 'check --python' : 'install it (apt-get install python3) or pass --python PATH'}`);
  if (args.rack) throw new UsageError('--rack config.ru is for Ruby apps: a Python WSGI app goes with --wsgi module:app');
  const script = pythonScriptIndex(program);
  if (args.wsgi) {
    if (script >= 0) throw new UsageError(`give either a Python script or --wsgi ${args.wsgi}, not both`);
    const problem = wsgiSpecProblem(args.wsgi, (w) => `--wsgi ${w}`);
    if (problem) throw new UsageError(problem);
  } else {
    if (script < 0) throw new UsageError(`give the Python script to ${command === 'compare' ? 'compare strategies on' : 'run'} (cowscope ${command} -- python3 app.py) or a WSGI app (--wsgi module:app); -c and -m are not supported`);
    program[script] = existingFile(program[script], 'the program', args.cwd);
  }
  const requests = requestsOf(args, args.wsgi);
  checkWorkloadLanguage(args.workload, 'python');
  if (args.cacheProbe === true) throw new UsageError('--cache-probe is for Ruby 3.4 (whose full GC empties every call cache): a Python program has no such caches; leave it out');
  for (const { step, flag, value } of STEP_OPTIONS)
    if (value(args) !== undefined) throw new UsageError(`${flag} goes with the ${step} step, which Ruby programs have: a Python program's steps are ${PYTHON_STRATEGY_STEPS.join(', ')}`);
  if (!Number.isInteger(args.children) || args.children < 1 || args.children > 64)
    throw new UsageError(`--children must be a whole number from 1 to 64, not ${args.children}`);
  for (const step of args.strategy.split('+'))
    if (!PYTHON_STRATEGY_STEPS.includes(step))
      throw new UsageError(`unknown strategy step "${step}" for a Python program in "${args.strategy}"${didYouMean(step, PYTHON_STRATEGY_STEPS)}: use ${PYTHON_STRATEGY_STEPS.join(', ')}, joined with + (e.g. gc+freeze)`);
  checkTimeout(args.timeout);
  return {
    ruby: args.ruby,
    python,
    program,
    wsgi: args.wsgi ? { app: args.wsgi, requests, count: args.requests, ...(args.wsgiNamed ? { named: args.wsgiNamed } : {}) } : undefined,
    children: args.children,
    strategy: args.strategy,
    workload: args.workload ? existingFile(args.workload, 'the workload', args.cwd) : undefined,
    bootTimeoutMs: args.timeout * 1000,
    workloadTimeoutMs: args.timeout * 1000,
    timeoutNamed: args.timeoutNamed,
    traceAllocations: false,
    aslr: args.aslr !== false,
    traceFaults: args.traceFaults !== false,
    prewarm: 1,
    cwd: args.cwd,
    output: output as RubyRunOptions['output'],
    maxHeapMapBytes: maxHeapMapOf(args),
  };
}

/** What the children ran; `registered`: the agent's word, at the fork, on a workload block (function)
 *  of the program's own (undefined: it did not say). */
function describeWorkload(plan: Omit<RubyRunOptions, 'heapMapPath'>, registered: boolean | undefined): string {
  if (plan.wsgi) return `${plan.wsgi.count} x ${plan.wsgi.requests.join(', ')} through the WSGI callable (${plan.wsgi.app})`;
  if (plan.rack) return `${plan.rack.count} x ${plan.rack.requests.join(', ')} through Rack::MockRequest (${path.basename(plan.rack.config)})`;
  if (plan.workload) return `load ${path.basename(plan.workload)}`;
  if (registered === false) return analyzerModule().NO_WORKLOAD;
  const block = plan.python ? 'the cowscope.workload function of the program' : 'the Cowscope.workload block of the program';
  return registered ? block : `${block}, if it registered one`;
}

/** The no-workload warning is printed once per process. */
let warnedNoWorkload = false;

/** The signals cowscope catches once a command that runs programs (run, compare, budget, init) has
 *  started its first run, until it exits. During a run: everything is killed and reaped, the temporary
 *  folder removed, one line, exit 128 + the signal's number. Between runs (compare's and budget's next
 *  one, the report being saved and rendered) the same line and exit: nothing runs then, and the
 *  command's output is not complete (SIGPIPE outside a run: see dispatch). Once the output is complete a
 *  signal ends cowscope at once with the exit status it was about to give (0, or budget's 1), no line: nothing is
 *  lost that it could say was interrupted (writeReport). */
export const CAUGHT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGPIPE'];

/** The run in progress, told about a signal; undefined between runs. */
let onRunSignal: ((signal: NodeJS.Signals) => void) | undefined;
/** The command's output is written whole (its report, its files): a signal now interrupts nothing. */
let complete = false;

function interruptedLine(signal: NodeJS.Signals): string {
  return `cowscope: interrupted by ${signal}: every process it started was killed and reaped, and its temporary folder removed\n`;
}

const dispatch = (signal: NodeJS.Signals) => {
  if (onRunSignal) onRunSignal(signal);
  // outside a run, SIGPIPE is a write to a closed pipe: that write's EPIPE ends cowscope (cli/main.ts)
  else if (signal === 'SIGPIPE') return;
  else if (complete) process.exit();
  else {
    process.stderr.write(interruptedLine(signal));
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  }
};
let listening = false;

/** Listens for INT, TERM, HUP and PIPE from the first run to the exit: removing the listeners after a run
 *  gave the default action back, and a signal while the report was saved, rendered or written killed
 *  cowscope without a word (exit 130), or, when it came after the report, called a complete report
 *  interrupted. SIGPIPE too: libuv would reset it to SIG_DFL, not to Node's SIG_IGN, and a later write
 *  to a closed pipe must raise EPIPE, not kill cowscope. (A listener keeps no event loop alive.) */
function listenForSignals(): void {
  if (listening) return;
  listening = true;
  for (const signal of CAUGHT_SIGNALS) process.on(signal, dispatch);
}

/** Writes the command's report to stdout (its last output: files are written before) and, once written,
 *  exits with the status set (0, or budget's 1). Not by letting node drain: its teardown closes its
 *  signal handles, which puts back the default action of INT, TERM and HUP some 40 ms before the process
 *  ends, and a Ctrl-C then killed a cowscope whose report was complete (130, without a line). */
export function writeReport(text: string): Promise<never> {
  return new Promise(() => {
    process.stdout.write(text, (e) => {
      if (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
        outputLost(e as NodeJS.ErrnoException);
      }
      complete = true;
      process.exit();
    });
  });
}

/** One controlled fork, measured: the capture and its report. Kills and reaps everything and removes
 *  its temporary folder on failure and on INT, TERM, HUP and PIPE (exit 128 + signo). Sweeps the
 *  folders of earlier runs that were killed before they could remove theirs. */
export async function measureRun(plan: Omit<RubyRunOptions, 'heapMapPath'> & { traceFaults?: boolean }, command: string[], laps = new Laps()): Promise<{ capture: Capture; analysis: RunAnalysis }> {
  let session: RubySession | undefined;
  let follower: HeapMapFollower | undefined;
  let dir: string | undefined;
  const faults = new ChildFaultTracing(plan.traceFaults !== false);
  let interrupted = false;
  const removeDir = () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  onRunSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return; // a second signal while cleaning up: the cleanup goes on
    interrupted = true;
    (session ? session.abort() : Promise.resolve()).finally(async () => {
      await follower?.cancel();
      removeDir();
      process.stderr.write(interruptedLine(signal));
      process.exit(128 + (os.constants.signals[signal] ?? 0));
    });
  };
  listenForSignals();
  try {
    sweepRunDirs();
    dir = createRunDir();
    session = RubySession.spawn({ ...plan, heapMapPath: path.join(dir, 'heap.jsonl'), beforeContinue: (children) => faults.start(children) });
    const { followHeapMap, gatherRun } = gatherModule();
    const { analyzeRun } = analyzerModule();
    renderModule();
    await session.ready();
    follower = followHeapMap(session);
    programLaps(laps, session.eventAt);
    const fp = session.forkPoint!;
    if (session.multiThreadedAtFork())
      process.stderr.write(
        `cowscope: warning: ${fp.threads.length} ${session.runtime === 'python' ? 'Python' : 'Ruby'} threads (${fp.threads.map((t) => escapeControl(t.name)).join(', ')}) and ${fp.osThreads} OS threads alive at the fork point; only the forking thread exists in the children\n`,
      );
    if (session.workloadRegistered === false && !plan.workload && !plan.rack && !plan.wsgi && !warnedNoWorkload) {
      warnedNoWorkload = true; // once: compare and budget measure the same program again and again
      process.stderr.write(
        `cowscope: warning: the program registered no workload before the fork point: the children run nothing (${analyzerModule().workloadHint(session.runtime)})\n`,
      );
    }
    session.go();
    await session.waitDone();
    laps.lap('workload');
    faults.finish();
    // The heap map (hundreds of MB) is unlinked on the thread pool once read, and the family killed and
    // reaped, while the capture is completed and analysed. One unlink, not fs.promises.rm: rm is steps of
    // JS (a stat, then the unlink), each waiting for this thread, which the analysis holds; its unlink ran
    // after the analysis, 40-70 ms of a million-object run's end (the kernel dropping the map's pages).
    let removed: Promise<void> | undefined;
    const heapMap = session.heapMapPath;
    const capture = await gatherRun(session, describeWorkload(plan, session.workloadRegistered), command, faults, laps, follower, () => {
      removed = fs.promises.unlink(heapMap).catch(() => undefined);
    });
    const released = session.release();
    let analysis: RunAnalysis;
    try {
      analysis = analyzeRun(capture, (step) => laps.lap(step));
    } finally {
      await Promise.allSettled([released, removed]);
      laps.lap('release, clean up');
    }
    await released;
    return { capture, analysis };
  } catch (e) {
    // What died explains a failure better than its symptom: ask before everything is killed.
    const cause = session ? session.failureCause(e) : e;
    await session?.abort();
    // Killing the family makes the steps above fail; the signal handler reports and exits instead.
    if (interrupted) await new Promise(() => undefined);
    throw cause;
  } finally {
    await follower?.cancel(); // it holds a thread of the pool until told
    faults.close();
    removeDir();
    // A signal during the awaits above (the run itself done): the handler kills, reaps and exits 128 +
    // signo; the run must not go on to a report (it went on, exited 0 first, and left the folder).
    if (interrupted) await new Promise(() => undefined);
    onRunSignal = undefined; // the listeners stay: see listenForSignals
  }
}

/** The program's steps up to the twin and children stopped at the fork, from when its events arrived. */
function programLaps(laps: Laps, at: Record<string, number>): void {
  // performance.now() counts from node's start: what came before the program was spawned
  laps.add('start', at.spawn);
  const steps: [string, string, string][] = [
    ['boot', 'spawn', 'fork_point'],
    ['strategy', 'fork_point', 'strategy'],
    ['fork', 'strategy', 'forked'],
  ];
  for (const [name, from, to] of steps) if (at[from] !== undefined && at[to] !== undefined) laps.add(name, at[to] - at[from]);
  laps.add('stopped', performance.now() - (at.forked ?? at.spawn));
  laps.skip();
}

/** 'inherit' where cowscope's stdin is a pipe, a socket or a file (`seq 100 | cowscope run app.rb`): one run reads it
 *  as the program alone would. Not a terminal: the program runs in a process group of its own, and a
 *  background group that reads the terminal is stopped (SIGTTIN). */
function programStdin(): 'inherit' | undefined {
  try {
    const st = fs.fstatSync(0);
    return st.isFIFO() || st.isFile() || st.isSocket() ? 'inherit' : undefined;
  } catch {
    return undefined; // closed
  }
}

export async function runCommand(args: RunArgs, command: string[]): Promise<string> {
  // planned first: a Python program refuses the Ruby steps' options in its own words
  const plan = { ...planRun(args, process.stderr), stdin: programStdin() };
  checkStepOptionsUsed([args.strategy], args, (step) => `--strategy ${step}, or ${args.strategy}+${step}`);
  const laps = new Laps();
  const { capture, analysis } = await measureRun(plan, command, laps);
  const probeNote = cacheProbeNotRun(args, capture);
  if (probeNote) process.stderr.write(probeNote);
  // --save and --html both or neither: the capture is renamed into place once the HTML is written
  const saved = args.save ? captureFileModule().stageCapture(args.save, capture) : undefined;
  laps.lap('clean up, save');
  let out: string;
  try {
    out = renderModule().runOutput(capture, analysis, args);
  } catch (e) {
    saved?.abort();
    throw e;
  }
  saved?.commit();
  laps.lap('render');
  if (args.debug) process.stderr.write(`cowscope: run took ${performance.now().toFixed(0)} ms since node started (${laps})\n`);
  return out;
}

export const runCommandModule: CommandModule<object, RunArgs> = {
  ...SPECS['run'],
  builder: (y: Argv) =>
    y
      .positional('program', { type: 'string', array: true, describe: 'the Ruby or Python script and its arguments (or: -- ruby [options] script, -- python3 [options] script)' })
      .option('children', { type: 'number', default: 2, describe: 'children to fork' })
      .option('strategy', {
        type: 'string',
        default: 'none',
        describe: `what the parent does just before forking: for Ruby ${STRATEGY_STEPS.join(', ')}; for Python ${PYTHON_STRATEGY_STEPS.join(', ')}; join steps with + (gc+coderange)`,
      })
      .option('prewarm', { type: 'number', describe: `with the prewarm step: how many times the parent runs the workload first (default ${DEFAULT_PREWARM})` })
      .option('before-fork', { type: 'string', describe: 'with strategy custom (Ruby): a Ruby file the parent loads before forking' })
      .option('workload', { type: 'string', describe: 'a Ruby or Python file each child runs after the fork (default: the Cowscope.workload block, or what cowscope.workload(fn) registered)' })
      .option('rack', { type: 'string', describe: 'load this config.ru as the preload and send it requests in each child' })
      .option('wsgi', { type: 'string', describe: 'a Python WSGI app, module:app (gunicorn\'s notation): imported as the preload, sent requests in each child' })
      .option('request', { type: 'string', array: true, describe: "with --rack or --wsgi: a request 'METHOD /path?query' (repeatable; default 'GET /')" })
      .option('requests', { type: 'number', default: 1, describe: 'with --rack or --wsgi: how many times each child sends the request list' })
      .option('timeout', { type: 'number', default: RUN_DEFAULTS.timeout, describe: 'seconds for the boot, and again for each step after the fork point (the strategy, the heap map, the workload)' })
      .option('trace-allocations', { type: 'boolean', default: RUN_DEFAULTS.traceAllocations, describe: 'trace allocations from boot, so blame can name allocation sites (slower boot)' })
      .option('aslr', {
        type: 'boolean',
        default: true,
        describe:
          '--no-aslr starts the program with address-space randomisation off, so repeated runs place memory alike (compare strategies without layout noise)',
      })
      .option('cache-probe', {
        type: 'boolean',
        default: false,
        describe:
          'Ruby 3.4 (a full GC empties every call cache): one more child runs a full GC, then the workload, so the predicted savings of gc, promote, warmup and compact count the call caches the children would fill again (the workload runs once more)',
      })
      .option('trace-faults', { type: 'boolean', default: true, describe: 'sample every page fault of the children (perf_event_open) to name the first writer of each copied page; --no-trace-faults turns it off' })
      .option('ruby', { type: 'string', default: RUN_DEFAULTS.ruby, describe: 'the Ruby interpreter' })
      .option('python', { type: 'string', describe: 'run a Python program with this interpreter (also recognised from -- python3 … or a .py script)' })
      .option('save', { type: 'string', describe: 'write the whole capture to this file (render it later with cowscope report FILE)' })
      .option('json', { type: 'boolean', default: RUN_DEFAULTS.json, describe: 'print the report as JSON (schema cowscope.run/1)' })
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report (page maps, cause charts) to this file' })
      .option('bytes', { type: 'boolean', default: RUN_DEFAULTS.bytes, describe: 'print sizes in bytes instead of K/M/G' })
      .option('all', { type: 'boolean', default: false, describe: 'show what the tables leave out: all-zero columns and rows, causes of no page' })
      .option('max-heap-map', { type: 'string', describe: 'the largest heap map to read (default 8GiB, or $COWSCOPE_MAX_HEAP_MAP)' })
      .option('example', { type: 'boolean', default: false, describe: 'run the bundled example app (a catalog preloaded, requests served in the children)' })
      .example('$0 run --example', 'the bundled example app')
      .example('$0 run app.rb', 'fork at the end of app.rb; children run its Cowscope.workload block')
      .example('$0 run --workload job.rb --children 4 app.rb', 'each of 4 children loads job.rb')
      .example("$0 run --rack config.ru --request 'GET /' --requests 100", 'a Rack app: 100 requests per child')
      .example("$0 run --wsgi mysite.wsgi:application --request 'GET /' --requests 100 -- python3", 'a Python WSGI app (imported from the working folder): 100 requests per child')
      .epilogue(
        [
          'Fork points: the end of the main script; or Cowscope.fork_point in the program (cowscope.fork_point() in',
          'Python); or, with --rack or --wsgi, right after the app is loaded. At the fork point the agent applies the strategy, writes a heap map from a',
          'throwaway sibling fork, and forks a stopped twin (the fork-time image) and the children.',
          'Every child is compared with the twin: shared, copied (the child wrote), copied-by-parent (the parent',
          'wrote; exact tier only), new. The program\'s own output goes to stderr.',
          'With --cache-probe on Ruby 3.4, whose full GC empties every call cache, one more child (the call-cache',
          'probe) runs a full GC and then the workload once the children are done, its output discarded: what a',
          'GC before the fork costs (gc, promote, warmup, compact). It runs the workload once more: mind a',
          'workload with effects outside the process. Not with a strategy that runs such a GC itself.',
        ].join('\n'),
      ) as unknown as Argv<RunArgs>, // yargs adds the camel-case traceAllocations at run time
  handler: async (args) => {
    const rest = ((args as Record<string, unknown>)['--'] as string[] | undefined) ?? [];
    await writeReport(await runCommand({ ...args, program: [...(args.program ?? []), ...rest.map(String)] }, process.argv.slice(2)));
  },
};
