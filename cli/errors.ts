// How failures reach the user: one line on stderr naming the fix, exit code 2 (1 is kept for budgets).

// The error classes are recognised by name, not imported: this module is loaded by every command, and
// the modules that define them (the addon, the capture file, the Ruby driver) only by the commands that
// use them (cli/main.ts loads a command's code when it runs). Each class sets its own name.
import type { ProbeError } from '../native/probe';
import { escapeControl } from './render/escape';

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;

/** Bad arguments: the message says what to type instead. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Errors whose message is already the line to show. */
const ONE_LINERS = new Set(['UsageError', 'TargetError', 'SessionError', 'CaptureFileError', 'HeapMapError']);

function named(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

/** The one line a user sees for an error. */
export function describeError(e: unknown): string {
  const name = named(e);
  if (name === 'ProbeError') {
    const p = e as ProbeError;
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
