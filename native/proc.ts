// Reading /proc for processes: the tree, identity, maps, smaps_rollup. Text files are read here and
// parsed by procfs-parse.ts; per-page data comes from the addon (probe.ts).

import fs from 'node:fs';
import {
  MemoryTotals,
  PF_KTHREAD,
  ProcStat,
  Vma,
  parseMaps,
  parseSmapsRollup,
  parseStat,
  parseStatus,
} from './procfs-parse';
import { ProbeError, readTextAsync } from './probe';

export interface ProcessInfo extends ProcStat {
  cmdline: string;
  uid: number;
  /** the process the id belongs to (Tgid): another number for a thread's id, which opens /proc/ID too */
  tgid: number;
  kernelThread: boolean;
  zombie: boolean;
}

function procError(e: NodeJS.ErrnoException, file: string, pid: number): ProbeError {
  const code = e.code ?? 'EIO';
  const hint =
    code === 'ENOENT' || code === 'ESRCH'
      ? `process ${pid} is gone; check the pid with \`ps\` and run again`
      : code === 'EACCES' || code === 'EPERM'
        ? `run as the same user as process ${pid} (it must be dumpable), or as root for the exact tier`
        : 'run `cowscope doctor` to see what this machine allows';
  return new ProbeError(`${code}: read ${file}: ${e.message}`, code, e.errno ?? 0, 'read', file, hint);
}

export async function readProcFileAsync(pid: number, name: string): Promise<string> {
  const file = `/proc/${pid}/${name}`;
  try {
    return await readTextAsync(file);
  } catch (e) {
    throw procError(e as NodeJS.ErrnoException, file, pid);
  }
}

export function readProcFile(pid: number, name: string): string {
  const file = `/proc/${pid}/${name}`;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw procError(e as NodeJS.ErrnoException, file, pid);
  }
}

/** stat of one process, or undefined when it does not exist (any more). */
export function statOf(pid: number): ProcStat | undefined {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), `/proc/${pid}/stat`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw e;
  }
}

/** USER_HZ: /proc/PID/stat start times are in 1/100 s on Linux. */
const CLOCK_TICKS = 100;

/** The system's uptime in seconds (the clock of /proc/PID/stat start times); undefined if unreadable. */
export function uptimeSeconds(): number | undefined {
  try {
    const v = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Pages of these processes that KSM merged (/proc/PID/ksm_merging_pages, 6.1+), or, where the kernel
 *  has no such file, the pages KSM holds merged on the whole machine (pages_shared); 0 without KSM. */
export function ksmMergedPages(pids: number[]): { pages: number; scope: 'family' | 'machine' } {
  const read = (file: string): number | undefined => {
    try {
      const n = Number(fs.readFileSync(file, 'utf8'));
      return Number.isFinite(n) ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const each = pids.map((pid) => read(`/proc/${pid}/ksm_merging_pages`));
  if (each.some((n) => n !== undefined)) return { pages: each.reduce((a: number, n) => a + (n ?? 0), 0), scope: 'family' };
  return { pages: read('/sys/kernel/mm/ksm/pages_shared') ?? 0, scope: 'machine' };
}

/** Seconds each process had run at uptime `at` (a forked worker: since its fork). `started`: start ticks
 *  known already (--watch: as the sample listed each worker, so one that exits between its sample and
 *  this read keeps its age), and where the others' read here go. Processes gone or unreadable and not
 *  in `started` are left out. */
export function agesAt(pids: number[], at: number | undefined, started = new Map<number, number>()): Map<number, number> {
  const ages = new Map<number, number>();
  if (at === undefined) return ages;
  for (const pid of pids) {
    try {
      // a start known already (as a sample listed the process) stands: the pid may be another's by now
      const s = started.has(pid) ? undefined : statOf(pid);
      if (s) started.set(pid, s.startTime);
    } catch {
      // not ours to read (statOf leaves out the processes that are gone)
    }
    const ticks = started.get(pid);
    if (ticks !== undefined) ages.set(pid, at - ticks / CLOCK_TICKS);
  }
  return ages;
}

/** When a process started, in seconds since 1970 (the boot time plus its start ticks); undefined if
 *  it is gone or unreadable. */
export function startedAt(pid: number): number | undefined {
  try {
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
    const s = statOf(pid);
    return s && Number.isFinite(btime) ? btime + s.startTime / CLOCK_TICKS : undefined;
  } catch {
    return undefined;
  }
}

export function processInfo(pid: number): ProcessInfo | undefined {
  const stat = statOf(pid);
  if (!stat) return undefined;
  let cmdline = '';
  let uid = -1;
  let tgid = pid;
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0').join(' ');
    const status = parseStatus(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    uid = Number((status.Uid ?? '-1').split(/\s+/)[0]);
    tgid = Number(status.Tgid ?? pid);
  } catch {
    // exited between reads: the stat we have still describes it
  }
  return {
    ...stat,
    cmdline: cmdline || `[${stat.comm}]`,
    uid,
    tgid,
    kernelThread: (stat.flags & PF_KTHREAD) !== 0,
    zombie: stat.state === 'Z' || stat.state === 'X',
  };
}

/** Every process on the system: pid -> parent pid. */
export function parentMap(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: ProcStat | undefined;
    try {
      stat = statOf(Number(name));
    } catch {
      continue; // exited while being read (a half-read stat): not part of anyone's family any more
    }
    if (stat) out.set(stat.pid, stat.ppid);
  }
  return out;
}

/** Does this kernel list each thread's children (/proc/PID/task/TID/children, CONFIG_PROC_CHILDREN)?
 *  Asked of our own main thread, once. */
let childrenFiles: boolean | undefined;
function hasChildrenFiles(): boolean {
  childrenFiles ??= fs.existsSync(`/proc/self/task/${process.pid}/children`);
  return childrenFiles;
}

/** The children of pid: those of each of its threads (a child forked by another thread than the main
 *  one is listed under that thread), from the kernel's own lists. A process that is gone has none. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // exited
  }
  for (const tid of tids) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
    } catch {
      continue; // the thread (or the process) exited meanwhile
    }
    for (const word of text.split(' ')) if (word) out.push(Number(word));
  }
  return out;
}

/** pid and its descendants, parents before children, siblings by pid. Without a parent map, from the
 *  kernel's children lists where it keeps them: a read per thread of the family, where a parent map
 *  reads the stat of every process on the system (7 ms for 70 processes here; a server runs hundreds). */
export function familyOf(pid: number, parents?: Map<number, number>): number[] {
  let childrenOfPid: (p: number) => number[] = childrenOf;
  if (parents || !hasChildrenFiles()) {
    const children = new Map<number, number[]>();
    for (const [child, parent] of parents ?? parentMap()) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent)!.push(child);
    }
    childrenOfPid = (p) => children.get(p) ?? [];
  }
  const out: number[] = [];
  const seen = new Set<number>();
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    if (seen.has(p)) continue; // listed twice: under a thread read before another that then exited took it over
    seen.add(p);
    out.push(p);
    queue.push(...childrenOfPid(p).sort((a, b) => a - b));
  }
  return out;
}

export interface LiveFamily {
  family: ProcessInfo[];
  skipped: string[];
}

/** A listing made ahead (native/capture.ts readFamilyAhead), for the next liveFamily call of the same
 *  target: that call then lists the family its reads were started for, without scanning /proc again. */
let listedAhead: LiveFamily | undefined;

export function keepListingAhead(listing: LiveFamily | undefined): void {
  listedAhead = listing;
}

/** The target and its live descendants (never cowscope itself); zombies are skipped with a note
 *  (their memory is gone), processes that exit while listed are left out. A listing kept ahead for
 *  this very process (same pid and start time) is taken instead, once. */
export function liveFamily(target: ProcessInfo): LiveFamily {
  const kept = listedAhead;
  listedAhead = undefined;
  if (kept && kept.family[0].pid === target.pid && kept.family[0].startTime === target.startTime) return kept;
  const family: ProcessInfo[] = [target];
  const skipped: string[] = [];
  // the members taken so far, by pid: a process is taken only under one of them
  const taken = new Map<number, ProcessInfo>([[target.pid, target]]);
  for (const pid of familyOf(target.pid).slice(1)) {
    if (pid === process.pid || taken.has(pid)) continue;
    let info: ProcessInfo | undefined;
    try {
      info = processInfo(pid);
    } catch {
      info = undefined;
    }
    if (!info) continue; // exited while we listed
    // Its stat, read now, must name a member as its parent, started no later than it: a pid listed as a
    // child that exited and was reused by then belongs to someone else (and so do its children).
    const parent = taken.get(info.ppid);
    if (!parent || info.startTime < parent.startTime) continue;
    if (info.zombie) {
      skipped.push(`process ${pid} (${info.comm}) is a zombie and was skipped`);
      continue;
    }
    taken.set(pid, info);
    family.push(info);
  }
  return { family, skipped };
}

export function readMaps(pid: number): Vma[] {
  return parseMaps(readProcFile(pid, 'maps'), `/proc/${pid}/maps`);
}

export async function readMapsAsync(pid: number): Promise<Vma[]> {
  return parseMaps(await readProcFileAsync(pid, 'maps'), `/proc/${pid}/maps`);
}

export async function readRollupAsync(pid: number): Promise<MemoryTotals> {
  return parseSmapsRollup(await readProcFileAsync(pid, 'smaps_rollup'), `/proc/${pid}/smaps_rollup`);
}

export function readRollup(pid: number): MemoryTotals {
  return parseSmapsRollup(readProcFile(pid, 'smaps_rollup'), `/proc/${pid}/smaps_rollup`);
}

/** Threads of a process: tid, name, state, wchan. */
export function threadsOf(pid: number): { tid: number; comm: string; state: string; wchan: string }[] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out = [];
  for (const t of tids) {
    try {
      const stat = parseStat(fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'));
      let wchan = '';
      try {
        wchan = fs.readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8').trim();
      } catch {
        // wchan is hidden from unprivileged readers on some kernels
      }
      out.push({ tid: stat.pid, comm: stat.comm, state: stat.state, wchan });
    } catch {
      // the thread ended while we listed
    }
  }
  return out;
}
