// Typed wrapper over the probe's fault tracing (native/faults.cc): every page fault of a process,
// sampled through perf_event_open(2) from the moment it is continued, as typed columns.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseStatus } from './procfs-parse';

/** The earliest sampled fault of the traced process on each page it faulted on (not in time order). */
export interface FaultSamples {
  /** the faulting process (tgid): always the traced one (faults of processes it forks are dropped) */
  pid: Int32Array;
  /** ns since the trace was enabled (right before the process was continued) */
  time: Float64Array;
  /** the faulting address */
  addr: Float64Array;
  /** FRAMES user frames per sample: the writing instruction, then its callers (0 where none) */
  frames: Float64Array;
  /** 1 where the fault was taken in kernel mode (a syscall wrote a user buffer); frames are then user-side */
  kernel: Uint8Array;
  /** samples the kernel dropped because a ring was full */
  lost: number;
  /** faults of the traced process sampled in all (one or more per page) */
  count: number;
}

export const FRAMES = 4;

interface FaultAddon {
  faultTraceOpen(pid: number, ringPages: number, kernel: boolean): number;
  faultTraceEnable(handle: number): number;
  faultTraceDrain(handle: number): number;
  faultTraceCollect(handle: number): Omit<FaultSamples, 'time'> & { time: Float64Array; framesPerSample: number };
  faultTraceClose(handle: number): void;
  faultTraceProbe(kernel: boolean): number;
  monotonicNs(): number;
}

// dist/native/faults.js -> build/Release/cowscope_probe.node at the package root (the same addon as probe.ts).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const addon: FaultAddon = require(path.join(__dirname, '..', '..', 'build', 'Release', 'cowscope_probe.node'));

/** Data pages of each per-CPU ring (512 KiB): at a fault every few µs, 20 ms of drain interval fits. */
const RING_PAGES = 128;

/** A fault trace of one process: open (stopped), enable, continue it, drain now and then, collect, close. */
export class FaultTrace {
  private enabledAt = 0;
  private closed = false;

  private constructor(
    readonly pid: number,
    private readonly handle: number,
  ) {}

  /** Opens the events (disabled) on a process; throws a system error when the kernel refuses. */
  static open(pid: number): FaultTrace {
    return new FaultTrace(pid, addon.faultTraceOpen(pid, RING_PAGES, true));
  }

  /** Starts sampling. Call right before the process is continued: times count from here. */
  enable(): void {
    this.enabledAt = addon.faultTraceEnable(this.handle);
  }

  /** CLOCK_MONOTONIC ns when sampling started: the samples' time base (0 before enable). */
  get enabledAtNs(): number {
    return this.enabledAt;
  }

  /** Empties the rings into the trace (call every few ms while the process runs). */
  drain(): void {
    if (!this.closed) addon.faultTraceDrain(this.handle);
  }

  /** Stops sampling and returns every sample. */
  collect(): FaultSamples {
    const c = addon.faultTraceCollect(this.handle);
    if (c.framesPerSample !== FRAMES) throw new Error(`the probe keeps ${c.framesPerSample} frames per fault, this wrapper reads ${FRAMES}: rebuild (npm run build)`);
    const time = c.time;
    for (let i = 0; i < time.length; i++) time[i] -= this.enabledAt;
    return { pid: c.pid, time, addr: c.addr, frames: c.frames, kernel: c.kernel, lost: c.lost, count: c.count };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    addon.faultTraceClose(this.handle);
  }
}

/** Whether this cowscope may trace faults, and why (or why not), in one phrase. */
export interface FaultTracingAvailability {
  available: boolean;
  why: string;
  /** kernel.perf_event_paranoid; null when the kernel has no perf events */
  paranoid: number | null;
}

const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;

function capabilities(): bigint {
  try {
    return BigInt(`0x${parseStatus(fs.readFileSync('/proc/self/status', 'utf8')).CapEff ?? '0'}`);
  } catch {
    return 0n;
  }
}

/** The rule, in order: the first that holds names the reason (the kernel's own check is the same). */
const ALLOWED_BY: { holds: (caps: bigint, paranoid: number) => boolean; why: (paranoid: number) => string }[] = [
  { holds: (caps) => ((caps >> BigInt(CAP_PERFMON)) & 1n) === 1n, why: () => 'CAP_PERFMON (root has it)' },
  { holds: (caps) => ((caps >> BigInt(CAP_SYS_ADMIN)) & 1n) === 1n, why: () => 'CAP_SYS_ADMIN (root has it)' },
  { holds: (_caps, paranoid) => paranoid <= 1, why: (p) => `perf_event_paranoid is ${p} (at most 1 lets any user sample its own processes, kernel mode included)` },
];

/** Can page faults be traced here? Decided by opening the event for real (on cowscope itself), and
 *  explained by the capabilities and kernel.perf_event_paranoid. */
export function faultTracingAvailability(): FaultTracingAvailability {
  const text = (() => {
    try {
      return fs.readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8');
    } catch {
      return null;
    }
  })();
  if (text === null) return { available: false, why: 'the kernel has no perf events (CONFIG_PERF_EVENTS off: no /proc/sys/kernel/perf_event_paranoid)', paranoid: null };
  const paranoid = Number(text.trim());
  const caps = capabilities();
  const err = addon.faultTraceProbe(true);
  const rule = ALLOWED_BY.find((r) => r.holds(caps, paranoid));
  if (err === 0) return { available: true, why: rule ? rule.why(paranoid) : 'perf_event_open allowed it', paranoid };
  const code = errnoName(err);
  if (!rule)
    return {
      available: false,
      why: `perf_event_paranoid is ${paranoid} and cowscope has neither root nor CAP_PERFMON: run as root, or sysctl kernel.perf_event_paranoid=1`,
      paranoid,
    };
  return { available: false, why: `perf_event_open failed with ${code} although ${rule.why(paranoid)} allows it (a seccomp filter or LSM in the way?)`, paranoid };
}

function errnoName(err: number): string {
  return Object.entries(os.constants.errno).find(([, n]) => n === err)?.[0] ?? `errno ${err}`;
}
