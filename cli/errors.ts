// How failures reach the user: one line on stderr naming the fix, exit code 2 (1 is kept for budgets).

// The error classes are recognised by name, not imported: this module is loaded by every command, and
// the modules that define them (the addon, the capture file, the Ruby driver) only by the commands that
// use them (cli/main.ts loads a command's code when it runs). Each class sets its own name.
import fs from 'node:fs';
import type { ProbeError } from '../native/probe';
import { escapeControl } from './render/escape';

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;

/** The output could not be written to stdout (a full disk, /dev/full, an I/O error): a report cut
 *  short must not pass for one with exit 0. One line to stderr, exit 2 (every process a command started
 *  is reaped by then: the report is written last). A closed pipe (EPIPE) is no failure: `| head`. */
export function outputLost(e: NodeJS.ErrnoException): never {
  try {
    fs.writeSync(2, `cowscope: cannot write the output to stdout (${e.code ?? e.message}): the report is incomplete; free space where it goes, or send it elsewhere\n`);
  } catch {
    // stderr is gone too: the exit status says it
  }
  process.exit(EXIT_USAGE);
}

/** Bad arguments: the message says what to type instead. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Errors whose message is already the line to show. */
const ONE_LINERS = new Set(['UsageError', 'TargetError', 'ExitedError', 'SessionError', 'CaptureFileError', 'HeapMapError', 'FileInTheWayError', 'PlantedLinkError']);

function named(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

/** CAP_SYS_PTRACE's bit in /proc/PID/status CapEff (linux/capability.h). */
const CAP_SYS_PTRACE = 19n;

function hasSysPtrace(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return !m || ((BigInt(`0x${m[1]}`) >> CAP_SYS_PTRACE) & 1n) === 1n;
  } catch {
    return true;
  }
}

/** Why root may not read a process, and what to do ("run as root" is no fix when cowscope is root): the
 *  kernel's ptrace access check wants CAP_SYS_PTRACE in the target's user namespace, so a root process
 *  without it, or inside a container or sandbox (an inner user namespace), is refused by processes
 *  outside, such as the sandbox's pid 1. */
function rootRefused(pid: number): string {
  return hasSysPtrace()
    ? `even root may not read process ${pid} from here: it lies outside this process's container or sandbox (another user namespace): run cowscope beside it (on the host, or in its container), or inspect another process`
    : `root without CAP_SYS_PTRACE may not read process ${pid}: run cowscope with CAP_SYS_PTRACE (e.g. not under a dropped capability bounding set), or inspect another process`;
}

/** The one line a user sees for an error. */
export function describeError(e: unknown): string {
  const name = named(e);
  if (name === 'ProbeError') {
    const p = e as ProbeError;
    const pid = /^\/proc\/(\d+)\//.exec(p.path)?.[1];
    if ((p.code === 'EACCES' || p.code === 'EPERM') && pid && process.geteuid?.() === 0) return `cannot read ${p.path}: ${p.code}: ${rootRefused(Number(pid))}`;
    return `cannot read ${p.path || p.syscall}: ${p.code}: ${p.hint}`;
  }
  if (e instanceof Error && name && ONE_LINERS.has(name)) return e.message;
  if (e instanceof Error && name === 'ParseError') return `${e.message} (the kernel printed something cowscope cannot parse: please report it)`;
  const err = e as NodeJS.ErrnoException;
  if (err && err.code === 'EPIPE') return 'output closed early';
  return `internal error: ${err?.message ?? String(e)} (run again with --debug for the stack trace)`;
}

export function fail(e: unknown, debug: boolean): never {
  // One line, whatever a message quotes from a file or a process.
  process.stderr.write(`cowscope: ${escapeControl(describeError(e))}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(EXIT_USAGE);
}
