// cowscope inspect PID: gather (native) -> classify and summarize (analyzers) -> render (cli).

import type { Argv, CommandModule } from 'yargs';
import { Role, captureProcesses, checkTarget } from '../../native/capture';
import { ProcessInfo, familyOf, processInfo } from '../../native/proc';
import { inspectReport } from '../../analyzers/inspect-report';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { diffCopiedPages, settleTies } from '../measure';
import { analyzePair, familyPairs } from '../../analyzers/sharing';
import type { Capture, ProcessCapture } from '../../native/capture';
import { ingestHeapDump } from '../../native/probe';
import { discoverRubyStructures } from '../../native/ruby-structures';
import { layoutFor } from '../../analyzers/ruby/versions';
import { ChildBlame, blameChild } from '../../analyzers/ruby/blame';
import { renderInspectText } from '../render/inspect-text';
import { writeHtml } from '../render/html';
import { inspectHtmlDoc } from '../render/html-docs';
import { renderPrometheus, renderWatchCurve, renderWatchSample } from '../render/inspect-live';
import type { InspectReport } from '../../analyzers/inspect-report';
import { parsePid } from '../args';
import { UsageError } from '../errors';

interface InspectArgs {
  pid: string;
  mappings: boolean;
  json: boolean;
  bytes: boolean;
  /** where the live agent left heap maps (default $TMPDIR/cowscope-live-UID of the target) */
  heapMapDir?: string;
  format?: 'table' | 'json' | 'prometheus';
  html?: string;
  watch?: number;
  count?: number;
}

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

/** Blame of live workers against their live master, from the heap map the agent took at the first fork. */
function liveBlame(capture: Capture, pairs: { child: ProcessCapture; reference: ProcessCapture }[], map: { heap: string; meta: LiveMeta }): Map<number, ChildBlame> {
  const classes = new Map(pairs.map((p) => [p.child.pid, analyzePair(capture, p.child, p.reference).classes]));
  diffCopiedPages(capture, pairs, (p) => classes.get(p.child.pid)!);
  const copiedPages = Float64Array.from(new Set(capture.diffs!.flatMap((d) => Array.from(d.addrs)))).sort();
  const { meta } = map;
  const dump = ingestHeapDump(map.heap, meta.heapPageSize, copiedPages, meta.slotSize);
  capture.runtime = { name: 'ruby', version: meta.ruby, platform: meta.platform, heapPageSize: meta.heapPageSize, slotSize: meta.slotSize };
  capture.heapMap = { heapPageSize: meta.heapPageSize, bodies: dump.bodies, objects: dump.objects, free: dump.free, malformed: dump.malformed };
  const layout = layoutFor(meta.ruby);
  const master = pairs[0].reference;
  capture.ruby = discoverRubyStructures(
    master.pid,
    dump,
    {
      heapPageSize: meta.heapPageSize,
      slotSize: meta.slotSize,
      heapPage: layout?.heapPage.size ? layout.heapPage : { size: 0, slotSizeOffset: null, startOffset: 0, bitmapsOffset: 0 },
      iseqBody: layout?.iseqBody.callData ? layout.iseqBody : { pointerOffset: 0, isEntries: 0, callData: 0, isSizes: [], ciSize: 0 },
    },
    master.vmas,
    copiedPages,
    capture.meta.pageSize,
  );
  capture.heapMap.bodies = capture.ruby.bodies; // with the GC heap pages found in memory (born after the map)
  // Workers of a live server run GCs; how many is unknown, so the GC contexts are allowed.
  return new Map(capture.diffs!.map((d) => [d.pid, blameChild(capture, d, 1)]));
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

/** One inspection, as the report object (rendering is the caller's). */
export async function inspectOnce(args: InspectArgs): Promise<InspectReport> {
  const target = checkTarget(parsePid(args.pid));
  const { family, skipped } = liveFamily(target);
  const roles = new Map<number, Role>(family.map((p) => [p.pid, p.pid === target.pid ? (family.length > 1 ? 'parent' : 'process') : 'child']));
  const capture = await captureProcesses(family, { roles, command: ['inspect', args.pid] });
  const pairs = familyPairs(capture).map(({ child, parent }) => ({ child, reference: parent }));
  settleTies(capture, pairs);
  const mapNotes: string[] = [];
  const map = pairs.length ? findLiveMap(target.pid, target.uid, mapNotes, args.heapMapDir) : undefined;
  const blames = map ? liveBlame(capture, pairs.filter((p) => p.reference.pid === target.pid), map) : new Map<number, ChildBlame>();
  const special = capture.heapMap ? { region: 'ruby-heap' as const, starts: capture.heapMap.bodies, size: capture.heapMap.heapPageSize } : undefined;
  const analyzed = pairs.map(({ child, reference }) => analyzePair(capture, child, reference, { special }));
  const sharing = analyzed.map((a) => a.sharing);
  const report = inspectReport(capture, sharing, { mappings: args.mappings, skipped: [...skipped, ...mapNotes], blames, liveMap: map ? { file: map.heap, time: map.meta.time, ruby: map.meta.ruby } : undefined });
  if (args.html) writeHtml(args.html, inspectHtmlDoc(capture, report, new Map(analyzed.map((a) => [a.sharing.pid, a.classes])), blames));
  return report;
}

export async function inspect(args: InspectArgs): Promise<string> {
  const report = await inspectOnce(args);
  const format = args.json ? 'json' : (args.format ?? 'table');
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'prometheus') return renderPrometheus(report);
  return renderInspectText(report, args);
}

/** --watch: samples every `seconds`, prints each worker's copied size and top causes per sample, then
 *  the curve of copied memory per worker over the samples. */
async function watch(args: InspectArgs, out: NodeJS.WritableStream): Promise<void> {
  const samples: { t: number; report: InspectReport }[] = [];
  const started = Date.now();
  const count = args.count ?? Infinity;
  let stop = false;
  const onInt = () => (stop = true);
  process.once('SIGINT', onInt);
  try {
    for (let i = 0; i < count && !stop; i++) {
      if (i) await new Promise((r) => setTimeout(r, args.watch! * 1000));
      const report = await inspectOnce(args);
      const t = (Date.now() - started) / 1000;
      samples.push({ t, report });
      if (args.json || args.format === 'json') out.write(`${JSON.stringify({ t, ...report })}\n`);
      else if (args.format === 'prometheus') out.write(renderPrometheus(report));
      else out.write(renderWatchSample(t, report, samples.length > 1 ? samples[samples.length - 2].report : undefined));
    }
  } finally {
    process.off('SIGINT', onInt);
  }
  if (!args.json && args.format !== 'json' && args.format !== 'prometheus') out.write(renderWatchCurve(samples));
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <pid>',
  describe: 'Memory of a process and its descendants, and how much each child still shares with its parent',
  builder: (y: Argv) =>
    y
      .positional('pid', { type: 'string', demandOption: true, describe: 'the process to inspect (a forking server\'s master, say)' })
      .option('mappings', { type: 'boolean', default: false, describe: 'also break each child down by mapping (VMA)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON (schema cowscope.inspect/1)' })
      .option('bytes', { type: 'boolean', default: false, describe: 'print sizes in bytes instead of K/M/G' })
      .option('format', { type: 'string', choices: ['table', 'json', 'prometheus'], default: 'table', describe: 'output: tables, JSON, or node_exporter textfile metrics' })
      .option('watch', { type: 'number', describe: 'sample every SECONDS: copied memory per worker over time, top causes, and the curve' })
      .option('count', { type: 'number', describe: 'with --watch: stop after N samples (default: until Ctrl-C)' })
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report (page maps, cause charts) to this file' })
      .option('heap-map-dir', { type: 'string', describe: 'where the live agent (RUBYOPT=-r$(cowscope agent-path)) left heap maps; default $TMPDIR/cowscope-live-UID' })
      .example('$0 inspect $(pgrep -o unicorn)', 'the master and its workers: RSS/PSS/USS, and per worker what it still shares')
      .example('$0 inspect 1234 --mappings', 'where in the address space the copies are')
      .example('$0 inspect $(pgrep -o unicorn) --watch 5', 'how the workers\' copies grow, sample by sample')
      .example('$0 inspect 1234 --format prometheus > /var/lib/node_exporter/cow.prom', 'metrics for node_exporter\'s textfile collector')
      .epilogue(
        [
          'Page classes (for every page of a child\'s private mappings, against its parent):',
          '  shared   the same page as the parent         copied  both have it, different pages (either side wrote)',
          '  new      only the child has it               absent  only the parent has it (not faulted in by the child)',
          '  zero     the shared zero page (costs nothing)  swapped the child\'s page is in swap',
          'Tier: as root, pages are compared by physical frame (exact); otherwise by pagemap bit 56 and contents',
          '(exclusive-bit). `cowscope doctor` says which tier this machine gives you.',
          'RSS/PSS/USS/SWAP come from smaps_rollup; USS = Private_Clean + Private_Dirty, as smem counts it.',
        ].join('\n'),
      ) as unknown as Argv<InspectArgs>,
  handler: async (args) => {
    if (args.watch !== undefined) {
      if (!(args.watch > 0)) throw new UsageError(`--watch takes a positive number of seconds, not ${args.watch}`);
      if (args.count !== undefined && (!Number.isInteger(args.count) || args.count < 1)) throw new UsageError(`--count must be a whole number of at least 1, not ${args.count}`);
      await watch(args, process.stdout);
      return;
    }
    if (args.count !== undefined) throw new UsageError('--count goes with --watch SECONDS');
    process.stdout.write(await inspect(args));
  },
};
