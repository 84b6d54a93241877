// What this machine and these credentials allow: the facts behind `cowscope doctor`.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { features } from './probe';
import { parseStatus } from './procfs-parse';

export interface MachineFacts {
  kernel: string;
  pageSize: number;
  thp: string;
  uid: number;
  capSysAdmin: boolean;
  capSysPtrace: boolean;
  pfnVisible: boolean;
  pagemapReadable: boolean;
  kpagecount: boolean;
  kpageflags: boolean;
  pagemapScan: boolean;
  /** read faults map the shared zero page (null: unknown, pagemap unreadable) */
  zeroPage: boolean | null;
  softDirty: boolean;
  /** null when Yama is not built into the kernel */
  ptraceScope: number | null;
  ksmRun: number | null;
  swapDevices: number;
  ruby: { path: string; version: string } | null;
  /** python3 on PATH: what `cowscope run -- python3 app.py` starts */
  python: { path: string; version: string } | null;
  smem: string | null;
}

function readOr(file: string, fallback: string | null): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** First executable named `name` on PATH. */
export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function capability(bit: number): boolean {
  const status = parseStatus(fs.readFileSync('/proc/self/status', 'utf8'));
  const eff = BigInt(`0x${status.CapEff ?? '0'}`);
  return ((eff >> BigInt(bit)) & 1n) === 1n;
}

/** An interpreter on PATH and the version it prints when asked with `args` (null: none on PATH). */
function interpreterFacts(name: string, args: string[]): { path: string; version: string } | null {
  const exe = which(name);
  if (!exe) return null;
  try {
    const version = execFileSync(exe, args, { timeout: 10_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { path: exe, version };
  } catch {
    return { path: exe, version: `unknown (${name} ${args[0]} failed)` };
  }
}

export function machineFacts(): MachineFacts {
  const f = features();
  const yama = readOr('/proc/sys/kernel/yama/ptrace_scope', null);
  const ksm = readOr('/sys/kernel/mm/ksm/run', null);
  const swaps = (readOr('/proc/swaps', '') ?? '').split('\n').slice(1).filter(Boolean).length;
  const thpText = readOr('/sys/kernel/mm/transparent_hugepage/enabled', null);
  return {
    kernel: os.release(),
    pageSize: f.pageSize,
    thp: thpText ? (/\[(\w+)\]/.exec(thpText)?.[1] ?? thpText) : 'unsupported',
    uid: process.getuid?.() ?? -1,
    capSysAdmin: capability(21),
    capSysPtrace: capability(19),
    pfnVisible: f.pfnVisible,
    pagemapReadable: f.pagemapReadable,
    kpagecount: f.kpagecount,
    kpageflags: f.kpageflags,
    pagemapScan: f.pagemapScan,
    zeroPage: f.pagemapReadable ? f.zeroPage : null,
    softDirty: f.softDirty,
    ptraceScope: yama === null ? null : Number(yama),
    ksmRun: ksm === null ? null : Number(ksm),
    swapDevices: swaps,
    ruby: interpreterFacts('ruby', ['-e', 'print RUBY_VERSION']),
    python: interpreterFacts('python3', ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']),
    smem: which('smem'),
  };
}
