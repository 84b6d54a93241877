// cowscope compare: the same program forked under several strategies, several times each, side by side.

import type { Argv, CommandModule } from 'yargs';
import { CompareReport, StrategyRuns, compareReport } from '../../analyzers/compare';
import type { RunReport } from '../../analyzers/run-report';
import { UsageError } from '../errors';
import { renderTable } from '../render/table';
import { formatSize } from '../render/units';
import { writeHtml } from '../render/html';
import { compareHtmlDoc } from '../render/html-docs';
import { RunArgs, measureRun, planRun, runCommandModule } from './run';
import { SPECS } from './specs';

interface CompareArgs extends RunArgs {
  strategies: string;
  repeat: number;
  workers: number;
}

export async function compareCommand(args: CompareArgs, command: string[]): Promise<string> {
  const names = args.strategies.split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UsageError('--strategies needs at least one strategy, e.g. none,gc,warmup');
  // Every strategy is checked before the first run, for the program's runtime (Ruby and Python steps differ).
  for (const n of names) planRun({ ...args, strategy: n }, process.stderr);
  if (!Number.isInteger(args.repeat) || args.repeat < 1 || args.repeat > 50) throw new UsageError(`--repeat must be a whole number from 1 to 50, not ${args.repeat}`);
  if (!Number.isInteger(args.workers) || args.workers < 1) throw new UsageError(`--workers must be a whole number of at least 1, not ${args.workers}`);
  const runs: StrategyRuns[] = [];
  for (const name of names) {
    const plan = planRun({ ...args, strategy: name }, process.stderr);
    const reports: RunReport[] = [];
    for (let i = 0; i < args.repeat; i++) {
      process.stderr.write(`cowscope: ${name}, run ${i + 1} of ${args.repeat}\n`);
      reports.push((await measureRun(plan, command)).analysis.report);
    }
    runs.push({ name, reports });
  }
  const report = compareReport(runs, args.workers);
  if (args.html) writeHtml(args.html, compareHtmlDoc(report));
  return args.json ? `${JSON.stringify(report, null, 2)}\n` : renderCompare(report, args.bytes);
}

function renderCompare(r: CompareReport, bytes: boolean): string {
  const size = (b: number) => formatSize(Math.round(b), bytes);
  const rows = r.strategies.map((s) => [
    s.label,
    s.runs,
    `${size(s.copiedPerChild.median)} (${size(s.copiedPerChild.min)}–${size(s.copiedPerChild.max)})`,
    s.savedPerChild === null || s.name === 'none' ? '' : `${s.savedPerChild >= 0 ? '-' : '+'}${size(Math.abs(s.savedPerChild))} (${s.savedPercent!.toFixed(0)}%)`,
    s.predictedSavedPerChild === null || s.name === 'none' ? '' : `-${size(s.predictedSavedPerChild)}`,
    `${(100 * s.sharedRatio).toFixed(1)}%`,
    size(s.parentRss),
    `${s.seconds.toFixed(2)} s`,
    s.blame.slice(0, 3).map((b) => `${b.cause} ${b.pages}`).join(', '),
  ]);
  return [
    `cowscope compare: ${r.runtime.name} ${r.runtime.version}, tier ${r.tier}; best first (copied = copied + copied-by-parent, per child)`,
    '',
    renderTable(['STRATEGY', 'RUNS', 'COPIED/CHILD MEDIAN (MIN–MAX)', 'VS NONE', 'PREDICTED', 'SHARED', 'PARENT RSS', 'TIME', 'TOP CAUSES (PAGES)'], rows, [1, 5, 6, 7]),
    '',
    r.verdict,
    '',
  ].join('\n');
}

export const compareCommandModule: CommandModule<object, CompareArgs> = {
  ...SPECS['compare'],
  builder: (y: Argv) =>
    (runCommandModule.builder as (y: Argv) => Argv)(y)
      .option('strategies', { type: 'string', default: 'none,gc,nakayoshi,warmup', describe: 'comma-separated strategies (each may join steps with +)' })
      .option('repeat', { type: 'number', default: 3, describe: 'runs per strategy (median, min and max are reported)' })
      .option('workers', { type: 'number', default: 8, describe: 'workers to project the saving to' })
      .example('$0 compare --strategies none,gc,nakayoshi,warmup,prewarm --repeat 3 -- ruby app.rb', 'which strategy makes children copy least')
      .example("$0 compare --rack config.ru --request 'GET /' --requests 100 --strategies none,warmup", 'the same for a Rack app') as unknown as Argv<CompareArgs>,
  handler: async (args) => {
    const rest = ((args as Record<string, unknown>)['--'] as string[] | undefined) ?? [];
    process.stdout.write(await compareCommand({ ...args, program: [...(args.program ?? []), ...rest.map(String)] }, process.argv.slice(2)));
  },
};
