// cowscope inspect PID: gather (one Capture) -> classify, summarize and blame once -> render.

import fs from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { inspectReport, mapRuntime } from '../../analyzers/inspect-report';
import { analyzePair } from '../../analyzers/sharing';
import { gatherInspect } from '../../gather/inspect';
import type { ChildBlame } from '../../blame/engine';
import type { InspectReport, LiveMapUse } from '../../analyzers/inspect-report';
import { parsePid, sizeLimit } from '../args';
import { UsageError, describeError } from '../errors';
import { type Capture, TargetError, checkTarget } from '../../native/capture';
import { writeFileAtomically } from '../../native/files';
import { agesAt, uptimeSeconds } from '../../native/proc';
import { escapeControl } from '../render/escape';
import type { InspectGather } from '../../gather/inspect';
import type { Reuse } from '../../gather/reuse';
import { SPECS } from './specs';

// Loaded when used (start-up counts: `inspect PID --json` is timed against smem): blame and the runtime
// adapters only for children with a heap map, each renderer only for its format, the HTML page only
// with --html, what a watch keeps between samples only with --watch.
/* eslint-disable @typescript-eslint/no-var-requires */
const runtimes = () => require('../../runtimes') as typeof import('../../runtimes');
const threads = () => require('../../blame/threads') as typeof import('../../blame/threads');
const html = () => require('../render/html') as typeof import('../render/html');
const htmlDocs = () => require('../render/html-docs') as typeof import('../render/html-docs');
const text = () => require('../render/inspect-text') as typeof import('../render/inspect-text');
const live = () => require('../render/inspect-live') as typeof import('../render/inspect-live');
const reuseModule = () => require('../../gather/reuse') as typeof import('../../gather/reuse');
/* eslint-enable @typescript-eslint/no-var-requires */

interface InspectArgs {
  pid: string;
  mappings: boolean;
  /** text: every column, row, cause and mapping, zero or not */
  all?: boolean;
  json: boolean;
  bytes: boolean;
  /** where the live agent left heap maps (default: gather/live-map.ts mapDirCandidates) */
  heapMapDir?: string;
  format?: 'table' | 'json' | 'prometheus';
  html?: string;
  watch?: number;
  count?: number;
  /** write the output to this file atomically (a temporary file beside it, then renamed) */
  output?: string;
  /** largest heap map read, in MiB */
  /** the largest live heap map read: a size (512MiB) */
  maxHeapMap?: string;
  debug?: boolean;
}

/** --watch bounds: a tenth of a second to a day. */
export const WATCH_MIN_SECONDS = 0.1;
export const WATCH_MAX_SECONDS = 86_400;

/** What one sample cost, for --debug. */
export interface SampleCost {
  ms: number;
  steps: Record<string, number>;
  mapsParsed: number;
  mapsReused: number;
  /** groups whose structures and blames were those of the last sample (--watch) */
  groupsReused: number;
  /** groups whose parent's structures were those of the last sample, the children's part found afresh */
  groupsPartlyReused: number;
  /** why the others were found afresh, per forking process */
  notReused: string[];
  /** children blamed in this sample, and those whose last blame was kept (--watch) */
  blamed: number;
  blamesReused: number;
  /** children whose blame is under way on a thread (--watch) */
  blamesPending: number;
}

/** One inspection, as the report object (rendering is the caller's), and what it cost. */
export async function inspectSample(
  args: InspectArgs,
  reuse?: Reuse,
  background?: { blames: import('../../blame/threads').BackgroundBlames; wait: boolean; t: number },
): Promise<{ report: InspectReport; gather: InspectGather; cost: SampleCost }> {
  const started = performance.now();
  const g = await gatherInspect(parsePid(args.pid), {
    heapMapDir: args.heapMapDir,
    maxHeapMapBytes: sizeLimit('--max-heap-map', args.maxHeapMap, 'COWSCOPE_MAX_HEAP_MAP', 512 * 1024 * 1024, '512MiB or 2GiB'),
    command: ['inspect', args.pid],
    reuse,
  });
  const { capture } = g;
  // Each child is blamed with its own parent's map (its group's capture). Workers of a live server
  // run GCs; how many is unknown, so the GC contexts are allowed (gcRuns 1).
  const blames = new Map<number, ChildBlame>();
  const specials = new Map<number, { region: 'ruby-heap'; starts: Float64Array; size: number }>();
  const tBlame = performance.now();
  let blamesReused = 0;
  const pending: number[] = [];
  for (const group of g.groups) {
    const adapter = runtimes().adapterOf(group.capture);
    if (!adapter) continue;
    // --watch keeps each child's blame, reused while what it is computed from is the same (gather/reuse.ts);
    // the others are blamed together, on a thread each while there are cores; in the background (--watch):
    // this sample says they are under way, a later one shows them (the last sample waits for them)
    const diffs = group.capture.diffs ?? [];
    const fresh = new Set(diffs.filter((d) => !group.blames?.get(d.pid)).map((d) => d.pid));
    // owners only for the HTML page's maps: the tables, JSON and metrics show none
    const jobs = diffs.filter((d) => fresh.has(d.pid)).map((d) => ({ diffs: d, gcRuns: 1, owners: !!args.html }));
    const kept = group.blames;
    if (background && kept) {
      const start = jobs.filter((j) => !background.blames.isPending(j.diffs.pid, kept.key(j.diffs.pid)));
      if (start.length) background.blames.start(group.capture, start, start.map((j) => kept.key(j.diffs.pid)), background.t, (pid, b) => kept.set(pid, b), background.wait);
      if (background.wait) {
        await background.blames.settle();
        // a blame that failed on its thread (reported by the watch) is tried once more here
        const missing = jobs.filter((j) => !kept.get(j.diffs.pid));
        const computed = await threads().blameChildren(adapter, group.capture, missing);
        missing.forEach((j, i) => kept.set(j.diffs.pid, computed[i]));
      } else for (const j of jobs) pending.push(j.diffs.pid);
    } else {
      const computed = await threads().blameChildren(adapter, group.capture, jobs);
      jobs.forEach((j, i) => kept?.set(j.diffs.pid, computed[i]));
      jobs.forEach((j, i) => blames.set(j.diffs.pid, computed[i]));
    }
    for (const d of diffs) {
      const b = kept?.get(d.pid);
      if (b && !blames.has(d.pid)) {
        if (!fresh.has(d.pid)) blamesReused++;
        blames.set(d.pid, b);
      }
    }
    const hm = group.capture.heapMap;
    if (hm) specials.set(group.parent, { region: 'ruby-heap', starts: hm.bodies, size: hm.heapPageSize });
  }
  g.timings.blame = performance.now() - tBlame;
  // the pages are classified while the last smaps_rollup reads are still under way (gather/inspect.ts)
  const classified = g.pairs.map(({ child, reference }) => analyzePair(capture, child, reference, { special: specials.get(reference.pid) }));
  await g.memory;
  const kept = new Set(g.pairs.map((p) => p.child.pid));
  const analyzed = classified.filter((a) => kept.has(a.sharing.pid));
  for (const pid of [...blames.keys()]) if (!kept.has(pid)) blames.delete(pid);
  const report = inspectReport(
    capture,
    analyzed.map((a) => a.sharing),
    {
      mappings: args.mappings,
      skipped: g.notes,
      blames,
      liveMap: g.liveMap,
      liveMaps: g.groups.map((x) => ({ pid: x.parent, file: x.map.file, time: x.map.time, ...mapRuntime(x.map.runtime, x.map.ruby), generation: x.map.generation, malformedLines: x.map.malformed, children: x.children, ...liveCollectionsOf(x.capture) })),
      unblamed: g.unblamed,
      blamePending: pending,
      staleBlames: background && new Map(pending.flatMap((pid) => {
        const last = background.blames.lastFinished(pid);
        return last ? [[pid, { blame: last.blame, asOf: last.t }] as const] : [];
      })),
      self: process.pid,
    },
  );
  if (args.html) html().writeHtml(args.html, htmlDocs().inspectHtmlDoc(capture, report, new Map(analyzed.map((a) => [a.sharing.pid, a.classes])), blames));
  const cost: SampleCost = {
    ms: performance.now() - started,
    steps: g.timings,
    mapsParsed: g.groups.filter((x) => x.map.parsedNow).length,
    mapsReused: g.groups.filter((x) => !x.map.parsedNow).length,
    groupsReused: g.groups.filter((x) => x.reused).length,
    groupsPartlyReused: g.groups.filter((x) => x.partlyReused).length,
    notReused: g.groups.filter((x) => x.notReused).map((x) => `${x.parent}: ${x.notReused}${x.partlyReused ? ' (the parent\'s part kept)' : ''}`),
    blamed: blames.size,
    blamesReused,
    blamesPending: pending.length,
  };
  return { report, gather: g, cost };
}

/** One inspection, as the report object (rendering is the caller's). */
export async function inspectOnce(args: InspectArgs): Promise<InspectReport> {
  return (await inspectSample(args)).report;
}

/** A live group's children's collections (Python: read from each child by attach), for the report. */
function liveCollectionsOf(capture: Capture): Pick<LiveMapUse, 'collections'> {
  const c = capture.python?.liveCollections;
  return c?.length ? { collections: c } : {};
}

/** Problems of one scrape, for the cowscope_scrape_errors gauge. */
function scrapeErrors(s?: { report: InspectReport; gather: InspectGather }, failed = false): Record<string, number> {
  return {
    failed: failed ? 1 : 0,
    vanished: s?.gather.vanished.length ?? 0,
    map_refused: s ? [...s.gather.unblamed.values()].filter((w) => /refused|cannot be read/.test(w)).length : 0,
    no_blame: s?.gather.unblamed.size ?? 0,
  };
}

function formatOf(args: InspectArgs): 'json' | 'prometheus' | 'table' {
  return args.json ? 'json' : ((args.format as 'json' | 'prometheus' | 'table' | undefined) ?? 'table');
}

function debugLine(n: number, cost: SampleCost): string {
  // a step's parts ("attach.parent") in parentheses after it
  const parts = (step: string) =>
    Object.entries(cost.steps)
      .filter(([k]) => k.startsWith(`${step}.`))
      .map(([k, v]) => `${k.slice(step.length + 1)} ${v.toFixed(0)}`);
  const steps = Object.entries(cost.steps)
    .filter(([k]) => !k.includes('.'))
    .map(([k, v]) => `${k} ${v.toFixed(0)}${parts(k).length ? ` (${parts(k).join(', ')})` : ''}`)
    .join(', ');
  return `cowscope: sample ${n} took ${cost.ms.toFixed(0)} ms (${steps}; heap maps parsed ${cost.mapsParsed}, reused ${cost.mapsReused}; structures reused for ${cost.groupsReused} of ${cost.mapsParsed + cost.mapsReused} forking processes${cost.groupsPartlyReused ? `, the parent's part for ${cost.groupsPartlyReused} more` : ''}${cost.notReused.length ? ` (why not: ${cost.notReused.join(', ')})` : ''}, blames for ${cost.blamesReused} of ${cost.blamed} children${cost.blamesPending ? `, ${cost.blamesPending} under way` : ''})\n`;
}

export async function inspect(args: InspectArgs): Promise<string> {
  const s = await inspectSample(args);
  if (args.debug) process.stderr.write(debugLine(1, s.cost));
  const format = formatOf(args);
  if (format === 'json') return `${JSON.stringify(s.report, null, 2)}\n`;
  if (format === 'prometheus') return live().renderPrometheus(s.report, scrapeErrors(s));
  return text().renderInspectText(s.report, args);
}

const sleep = (ms: number, stop: () => boolean) =>
  new Promise<void>((resolve) => {
    const end = Date.now() + ms;
    const tick = () => {
      const left = end - Date.now();
      if (left <= 0 || stop()) resolve();
      else setTimeout(tick, Math.min(left, 250));
    };
    tick();
  });

/** The tick of the watch's clock the next sample goes on, and when it starts: ticks come every interval
 *  from the first sample's start, as a timer's expirations do (timerfd, `perf stat -I`); the tick after
 *  the last one, or, when that has passed already (the last sample ran late), now, on the latest tick
 *  that has passed: missed ticks are skipped, never caught up in a burst. */
export function nextTick(origin: number, lastTick: number, intervalMs: number, now: number): { at: number; tick: number } {
  let tick = lastTick + 1;
  if (origin + tick * intervalMs <= now) tick = Math.max(tick, Math.floor((now - origin) / intervalMs));
  return { at: Math.max(now, origin + tick * intervalMs), tick };
}

/** --watch: samples every `seconds`, the sample's own cost included: on the ticks of a clock started with
 *  the first sample (a sample that ran late makes the next start when it ends, and ticks it missed are
 *  skipped: see nextTick); prints each worker's copied size and top causes per sample,
 *  workers that came and went, then the curve of copied memory per worker over the samples. A sample
 *  that fails (a process went away at the wrong moment) is reported and the watch goes on; only the
 *  target's own exit ends it (exit 0, after the curve, with a line on stderr). */
async function watch(args: InspectArgs, out: NodeJS.WritableStream): Promise<void> {
  const samples: { t: number; report: InspectReport }[] = [];
  // each worker's start, kept across samples: one that exits while its sample is taken keeps its age
  const startTicks = new Map<number, number>();
  const started = Date.now();
  const intervalMs = args.watch! * 1000;
  const count = args.count ?? Infinity;
  const format = formatOf(args);
  const reuse = new (reuseModule().Reuse)();
  // blames are computed beside the samples (a Rails worker's takes about a second); the last sample waits
  // for those under way, so the watch always ends with every worker blamed that can be
  const background = count > 1 ? new (threads().BackgroundBlames)() : undefined;
  let stop = false;
  const onInt = () => (stop = true);
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onInt);
  let targetGone: unknown;
  try {
    let tick = 0;
    for (let i = 0; i < count && !stop; i++) {
      if (i) {
        const next = nextTick(started, tick, intervalMs, Date.now());
        tick = next.tick;
        await sleep(next.at - Date.now(), () => stop);
      }
      if (stop) break;
      if (background?.failed) {
        process.stderr.write(`cowscope: a blame failed (it is started again): ${escapeControl(describeError(background.failed))}\n`);
        background.failed = undefined;
      }
      const t = (Date.now() - started) / 1000;
      const sampledAt = format === 'table' ? uptimeSeconds() : undefined;
      let s: Awaited<ReturnType<typeof inspectSample>> | undefined;
      try {
        // the last sample waits for the blames (those under way, and those it starts)
        s = await inspectSample(args, reuse, background && { blames: background, wait: i === count - 1, t });
        background?.keepOnly(new Set(s.report.sharing.map((x) => x.pid)));
      } catch (e) {
        if (e instanceof TargetError && !stillThere(args.pid)) {
          targetGone = e;
          break;
        }
        process.stderr.write(`cowscope: sample ${i + 1} failed: ${escapeControl(describeError(e))}\n`);
        if (format === 'prometheus') emit(args, out, live().renderPrometheus(undefined, scrapeErrors(undefined, true)));
        continue;
      }
      if (args.debug) process.stderr.write(debugLine(i + 1, s.cost));
      samples.push({ t, report: s.report });
      if (format === 'json') emit(args, out, `${JSON.stringify({ t, ...s.report })}\n`);
      else if (format === 'prometheus') emit(args, out, live().renderPrometheus(s.report, scrapeErrors(s)));
      else {
        // the starts as the sample listed them; kept for the workers of this sample only
        for (const pid of [...startTicks.keys()]) if (!s.report.sharing.some((x) => x.pid === pid)) startTicks.delete(pid);
        for (const x of s.report.sharing) {
          const ticks = s.gather.startTicks.get(x.pid);
          if (ticks !== undefined) startTicks.set(x.pid, ticks);
        }
        const ages = agesAt(s.report.sharing.map((x) => x.pid), sampledAt, startTicks);
        emit(args, out, live().renderWatchSample(t, s.report, samples.length > 1 ? samples[samples.length - 2].report : undefined, ages));
      }
    }
  } finally {
    await background?.stop();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onInt);
  }
  if (format === 'table') emit(args, out, live().renderWatchCurve(samples), true);
  if (!targetGone) return;
  // Gone before the first sample: the pid was wrong, as for inspect without --watch. Gone later: the
  // server stopped, an end of the watch like Ctrl-C, said in a line (QA: "no process N: check the pid"
  // after a watch of a master that exited).
  if (!samples.length) throw targetGone;
  process.stderr.write(`cowscope: process ${args.pid} exited after ${samples.length} sample${samples.length === 1 ? '' : 's'}: the watch ends\n`);
}

function stillThere(pid: string): boolean {
  try {
    process.kill(parsePid(pid), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** To stdout, or with --output: the file replaced atomically (prometheus: each scrape replaces it;
 *  other formats: the text so far). */
const written = new Map<string, string>();
function emit(args: InspectArgs, out: NodeJS.WritableStream, text: string, append = true): void {
  if (!args.output) {
    out.write(text);
    return;
  }
  const format = formatOf(args);
  const body = format === 'prometheus' || !append ? text : (written.get(args.output) ?? '') + text;
  if (format !== 'prometheus') written.set(args.output, body);
  writeOutput(args.output, body);
}

/** A --heap-map-dir that is no directory is a typo, not "no heap maps": said before anything is read
 *  (QA: a missing one gave exit 0, and one note per child that no map was found). */
function checkHeapMapDir(dir: string | undefined): void {
  if (dir === undefined) return;
  let isDir = false;
  try {
    isDir = fs.statSync(dir).isDirectory();
  } catch (e) {
    throw new UsageError(`--heap-map-dir ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}: give the folder the live agent writes its heap maps to (the server's $COWSCOPE_LIVE_DIR), or leave the option out`);
  }
  if (!isDir) throw new UsageError(`--heap-map-dir ${dir} is not a folder: give the folder the live agent writes its heap maps to (the server's $COWSCOPE_LIVE_DIR), or leave the option out`);
}

/** --output FILE, replaced atomically; a failure (the folder removed meanwhile, a full disk) in one line. */
function writeOutput(file: string, text: string): void {
  try {
    writeFileAtomically(file, text);
  } catch (e) {
    throw new UsageError(`cannot write ${file} (--output): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  ...SPECS['inspect'],
  builder: (y: Argv) =>
    y
      .positional('pid', { type: 'string', demandOption: true, describe: 'the process to inspect (a forking server\'s master, say)' })
      .option('mappings', { type: 'boolean', default: false, describe: `also break each child down by mapping (VMA): the ${text().TOP_MAPPINGS} with most copied (--all: every one)` })
      .option('all', { type: 'boolean', default: false, describe: 'show what the tables leave out: all-zero columns and rows, causes of no page, every mapping' })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON (schema cowscope.inspect/1)' })
      .option('bytes', { type: 'boolean', default: false, describe: 'print sizes in bytes instead of K/M/G' })
      // no yargs default (formatOf gives table): a --format table given with --json must be told from none
      .option('format', { type: 'string', choices: ['table', 'json', 'prometheus'], describe: 'output: tables (the default), JSON, or node_exporter textfile metrics' })
      .option('watch', { type: 'number', requiresArg: true, describe: 'sample every SECONDS (on the ticks of a timer): copied memory per worker over time, top causes (computed beside the samples: a worker that changed shows its last blame, marked, until the new one is done), and the curve' })
      .option('count', { type: 'number', describe: 'with --watch: stop after N samples (default: until Ctrl-C)' })
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report (page maps, cause charts) to this file' })
      .option('heap-map-dir', { type: 'string', describe: 'where the live agent (RUBYOPT=-r$(cowscope agent-path), PYTHONPATH=$(cowscope agent-path --runtime python)) left heap maps; default: where each forking process\'s agent writes, from its own environment ($COWSCOPE_LIVE_DIR, else $TMPDIR/cowscope-live-UID), then from cowscope\'s' })
      .option('max-heap-map', { type: 'string', describe: 'largest live heap map read, a size (default 512MiB, or $COWSCOPE_MAX_HEAP_MAP)' })
      .option('output', { type: 'string', describe: 'write to FILE atomically (a temporary file in the same folder, then renamed): for node_exporter\'s textfile collector' })
      .example('$0 inspect $(pgrep -o unicorn)', 'the master and its workers: RSS/PSS/USS, and per worker what it still shares')
      .example('$0 inspect 1234 --mappings', 'where in the address space the copies are')
      .example('$0 inspect $(pgrep -o unicorn) --watch 5', 'how the workers\' copies grow, sample by sample')
      .example('$0 inspect 1234 --format prometheus --output /var/lib/node_exporter/cow.prom', 'metrics for node_exporter\'s textfile collector')
      .epilogue(
        [
          'Page classes (for every page of a child\'s private mappings, against its parent):',
          '  shared   the same page as the parent         copied  both have it, different pages (either side wrote)',
          '  new      only the child has it               absent  only the parent has it (not faulted in by the child)',
          '  zero     the shared zero page (costs nothing)  swapped the child\'s page is in swap',
          '  copiedByParent (COPIED-BY-PARENT)  the parent wrote its page, the child kept the fork-time one: the',
          '           child\'s own memory all the same (told in the exact tier by siblings that still share it)',
          'Tier: as root, pages are compared by physical frame (exact); otherwise by pagemap bit 56 and contents',
          '(exclusive-bit). `cowscope doctor` says which tier this machine gives you.',
          'RSS/PSS/USS/SWAP come from smaps_rollup; USS = Private_Clean + Private_Dirty, as smem counts it.',
        ].join('\n'),
      ) as unknown as Argv<InspectArgs>,
  handler: async (args) => {
    if (args.json && args.format !== undefined && args.format !== 'json')
      throw new UsageError(`--json and --format ${args.format} ask for two outputs: give one (--json is --format json)`);
    if (args.watch !== undefined) {
      // a target that cannot be watched (gone, a thread's id, a kernel thread, a zombie) is refused before
      // the first sample, rather than failing every sample
      checkTarget(parsePid(args.pid));
      checkHeapMapDir(args.heapMapDir);
      if (!(Number.isFinite(args.watch) && args.watch >= WATCH_MIN_SECONDS && args.watch <= WATCH_MAX_SECONDS))
        throw new UsageError(`--watch takes seconds between ${WATCH_MIN_SECONDS} and ${WATCH_MAX_SECONDS} (a day), not ${args.watch}`);
      if (args.count !== undefined && (!Number.isInteger(args.count) || args.count < 1)) throw new UsageError(`--count must be a whole number of at least 1, not ${args.count}`);
      await watch(args, process.stdout);
      return;
    }
    if (args.count !== undefined) throw new UsageError('--count goes with --watch SECONDS');
    checkHeapMapDir(args.heapMapDir);
    const text = await inspect(args);
    if (args.output) writeOutput(args.output, text);
    else process.stdout.write(text);
  },
};
