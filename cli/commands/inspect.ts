// cowscope inspect PID: gather (one Capture) -> classify, summarize and blame once -> render.

// Only what `inspect PID --json` needs is imported here; blame (when a live heap map was found), the
// renderers and the HTML page are loaded when used (start-up counts: see cli/main.ts).

import type { Argv, CommandModule } from 'yargs';
import { inspectReport } from '../../analyzers/inspect-report';
import { analyzePair } from '../../analyzers/sharing';
import { gatherInspect } from '../../gather/inspect';
import type { ChildBlame } from '../../blame/engine';
import type { InspectReport } from '../../analyzers/inspect-report';
import { parsePid } from '../args';
import { UsageError } from '../errors';
import { SPECS } from './specs';

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

/** One inspection, as the report object (rendering is the caller's). */
export async function inspectOnce(args: InspectArgs): Promise<InspectReport> {
  const g = await gatherInspect(parsePid(args.pid), { heapMapDir: args.heapMapDir, command: ['inspect', args.pid] });
  const { capture } = g;
  const blames = new Map<number, ChildBlame>();
  if (capture.diffs?.length) {
    const { adapterOf } = require('../../runtimes') as typeof import('../../runtimes');
    const { blameChild } = require('../../blame/engine') as typeof import('../../blame/engine');
    const adapter = adapterOf(capture);
    // Workers of a live server run GCs; how many is unknown, so the GC contexts are allowed (gcRuns 1).
    if (adapter) for (const d of capture.diffs) blames.set(d.pid, blameChild(adapter, capture, d, 1));
  }
  const special = capture.heapMap ? { region: 'ruby-heap' as const, starts: capture.heapMap.bodies, size: capture.heapMap.heapPageSize } : undefined;
  const analyzed = g.pairs.map(({ child, reference }) => analyzePair(capture, child, reference, { special }));
  const report = inspectReport(
    capture,
    analyzed.map((a) => a.sharing),
    { mappings: args.mappings, skipped: g.notes, blames, liveMap: g.liveMap },
  );
  if (args.html) {
    const { writeHtml } = require('../render/html') as typeof import('../render/html');
    const { inspectHtmlDoc } = require('../render/html-docs') as typeof import('../render/html-docs');
    writeHtml(args.html, inspectHtmlDoc(capture, report, new Map(analyzed.map((a) => [a.sharing.pid, a.classes])), blames));
  }
  return report;
}

const live = () => require('../render/inspect-live') as typeof import('../render/inspect-live');

export async function inspect(args: InspectArgs): Promise<string> {
  const report = await inspectOnce(args);
  const format = args.json ? 'json' : (args.format ?? 'table');
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'prometheus') return live().renderPrometheus(report);
  return (require('../render/inspect-text') as typeof import('../render/inspect-text')).renderInspectText(report, args);
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
      else if (args.format === 'prometheus') out.write(live().renderPrometheus(report));
      else out.write(live().renderWatchSample(t, report, samples.length > 1 ? samples[samples.length - 2].report : undefined));
    }
  } finally {
    process.off('SIGINT', onInt);
  }
  if (!args.json && args.format !== 'json' && args.format !== 'prometheus') out.write(live().renderWatchCurve(samples));
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  ...SPECS['inspect'],
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
