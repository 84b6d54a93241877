// How failures reach the user: one line on stderr naming the fix, exit code 2 (1 is kept for budgets).

import { ProbeError } from '../native/probe';
import { ParseError } from '../native/procfs-parse';
import { TargetError } from '../native/capture';
import { CaptureFileError } from '../native/capture-file';
import { SessionError } from '../runtimes/ruby/driver';
import { HeapMapError } from '../runtimes/ruby/heap-map';
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

/** The one line a user sees for an error. */
export function describeError(e: unknown): string {
  if (e instanceof ProbeError) return `cannot read ${e.path || e.syscall}: ${e.code}: ${e.hint}`;
  if (e instanceof UsageError || e instanceof TargetError || e instanceof SessionError || e instanceof CaptureFileError || e instanceof HeapMapError) return e.message;
  if (e instanceof ParseError) return `${e.message} (the kernel printed something cowscope cannot parse: please report it)`;
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
