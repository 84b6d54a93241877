// The Capture of a live family (`cowscope inspect PID`): the target and its live descendants, ties
// settled, and, when the runtime's live agent left a heap map for the target, copied pages diffed
// against the live master and the runtime's structures attached. Built once per sample.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Capture, Role, captureProcesses, checkTarget } from '../native/capture';
import { ProcessInfo, familyOf, processInfo } from '../native/proc';
import { familyPairs } from '../analyzers/sharing';
import type { RuntimeAdapter } from '../runtimes/adapter';
import { Pair, diffCopiedPages, settleTies } from './pairs';

interface LiveMeta {
  pid: number;
  ruby: string;
  platform: string;
  heapPageSize: number;
  slotSize: number;
  time: string;
  /** seconds since 1970 when the map was taken */
  epoch: number;
}

/** When a process started, in seconds since 1970 (boot time + start ticks; USER_HZ is 100). */
function startedAt(pid: number): number | undefined {
  try {
    const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1]);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return btime + Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) / 100;
  } catch {
    return undefined;
  }
}

/** The heap map the live agent left for this master, if any and if it is this process's. */
function findLiveMap(pid: number, uid: number, notes: string[], dir?: string): { heap: string; meta: LiveMeta } | undefined {
  const d = dir ?? path.join(os.tmpdir(), `cowscope-live-${uid}`);
  const heap = path.join(d, `${pid}.heap.jsonl`);
  const metaFile = path.join(d, `${pid}.meta.json`);
  if (!fs.existsSync(heap) || !fs.existsSync(metaFile)) return undefined;
  let meta: LiveMeta;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as LiveMeta;
  } catch {
    notes.push(`${metaFile} cannot be read: no blame`);
    return undefined;
  }
  const started = startedAt(pid);
  if (meta.pid !== pid || !(meta.epoch >= (started ?? Infinity) - 1)) {
    notes.push(`the heap map ${heap} is older than process ${pid} (a restart, or a reused pid): no blame; it is rewritten at the next first fork`);
    return undefined;
  }
  return { heap, meta };
}

/** The target and its live descendants; zombies are skipped with a note (their memory is gone). */
function liveFamily(target: ProcessInfo): { family: ProcessInfo[]; skipped: string[] } {
  const family: ProcessInfo[] = [target];
  const skipped: string[] = [];
  for (const pid of familyOf(target.pid).slice(1)) {
    const info = processInfo(pid);
    if (!info) continue; // exited while we listed
    if (info.zombie) skipped.push(`process ${pid} (${info.comm}) is a zombie and was skipped`);
    else family.push(info);
  }
  return { family, skipped };
}

export interface InspectGather {
  capture: Capture;
  /** every child with its parent (as reference) */
  pairs: Pair[];
  /** processes skipped, maps refused: one line each */
  notes: string[];
  liveMap?: { file: string; time: string; ruby: string };
}

export async function gatherInspect(pid: number, opts: { heapMapDir?: string; command: string[] }): Promise<InspectGather> {
  const target = checkTarget(pid);
  const { family, skipped } = liveFamily(target);
  const roles = new Map<number, Role>(family.map((p) => [p.pid, p.pid === target.pid ? (family.length > 1 ? 'parent' : 'process') : 'child']));
  const capture = await captureProcesses(family, { roles, command: opts.command });
  const pairs = familyPairs(capture).map(({ child, parent }) => ({ child, reference: parent }));
  settleTies(capture, pairs);
  const notes = [...skipped];
  const map = pairs.length ? findLiveMap(target.pid, target.uid, notes, opts.heapMapDir) : undefined;
  if (map) {
    const workers = pairs.filter((p) => p.reference.pid === target.pid);
    diffCopiedPages(capture, workers);
    const master = workers[0].reference;
    const { meta } = map;
    // Loaded only when a heap map is there to attach (start-up counts: see cli/main.ts).
    const { rubyAdapter } = require('../runtimes/ruby/adapter') as { rubyAdapter: RuntimeAdapter };
    rubyAdapter.attach(
      capture,
      { file: map.heap, version: meta.ruby, platform: meta.platform, heapPageSize: meta.heapPageSize, slotSize: meta.slotSize },
      { pid: master.pid, vmas: master.vmas },
      workers.map((w) => ({ pid: w.child.pid, vmas: w.child.vmas })),
    );
  }
  return { capture, pairs, notes, liveMap: map ? { file: map.heap, time: map.meta.time, ruby: map.meta.ruby } : undefined };
}
