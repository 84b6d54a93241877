// cowscope compare: the same program forked under several strategies, several times each, side by side.

import type { Argv, CommandModule, Options, PositionalOptions } from 'yargs';
import { CompareReport, StrategyRuns, compareReport } from '../../analyzers/compare';
import type { RunReport } from '../../analyzers/run-report';
import { UsageError } from '../errors';
import { predictionFlags, renderCompareText, verdictText } from '../render/compare-text';
import { formatSize } from '../render/units';
import { writeHtml } from '../render/html';
import { compareHtmlDoc } from '../render/html-docs';
import { RunArgs, checkStepOptionsUsed, measureRun, planRun, runCommandModule, writeReport } from './run';
import { SPECS } from './specs';

/** The most workers a saving is projected to (more than any one machine runs). */
const MAX_WORKERS = 100_000;

interface CompareArgs extends Omit<RunArgs, 'strategy' | 'save'> {
  strategies: string;
  repeat: number;
  workers: number;
}

export async function compareCommand(args: CompareArgs, command: string[]): Promise<string> {
  const names = args.strategies.split(',').map((s) => s.trim());
  if (names.some((n) => !n)) throw new UsageError(`--strategies ${args.strategies} has an empty entry: name one strategy between each comma, e.g. none,gc,warmup`);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new UsageError(`--strategies names ${twice} twice: name each once (--repeat runs each several times)`);
  // Every strategy is checked before the first run, for the program's runtime (Ruby and Python steps differ).
  const plans = names.map((name) => planRun({ ...args, strategy: name }, process.stderr, 'compare'));
  checkStepOptionsUsed(names, args, (step) => `--strategies ${args.strategies},${step}`);
  if (!Number.isInteger(args.repeat) || args.repeat < 1 || args.repeat > 50) throw new UsageError(`--repeat must be a whole number from 1 to 50, not ${args.repeat}`);
  if (!Number.isInteger(args.workers) || args.workers < 1 || args.workers > MAX_WORKERS) throw new UsageError(`--workers must be a whole number from 1 to ${MAX_WORKERS}, not ${args.workers}`);
  const runs: StrategyRuns[] = names.map((name) => ({ name, reports: [] as RunReport[] }));
  // Round by round, every strategy once per round: what drifts while compare runs (the machine's load,
  // the files the program leaves for its next boot) falls on every strategy alike, not on the last ones.
  for (let i = 0; i < args.repeat; i++)
    for (const [k, name] of names.entries()) {
      process.stderr.write(`cowscope: ${name}, run ${i + 1} of ${args.repeat}\n`);
      runs[k].reports.push((await measureRun(plans[k], command)).analysis.report);
    }
  const analysis = compareReport(runs, args.workers);
  const report: CompareReport = { ...analysis, verdict: verdictText(analysis), notes: predictionFlags(analysis, (b) => formatSize(b, false)) };
  if (args.html) writeHtml(args.html, compareHtmlDoc(report));
  return args.json ? `${JSON.stringify(report, null, 2)}\n` : renderCompareText(analysis, args.bytes);
}

/** run's options compare does not take: --strategy (--strategies replaces it), --save (one capture per
 *  run; compare keeps none), --all (run's text option: compare's table hides nothing); --json and
 *  --html compare declares itself (its own schema and report). */
const NOT_FROM_RUN = new Set(['strategy', 'save', 'all', 'json', 'html']);

/** run's positional and options as run's builder declares them, read by handing the builder a stand-in
 *  that records .positional() and .option() and ignores the rest (run's examples and epilogue): compare
 *  measures runs, so it takes whatever run takes to start one, from one place. */
function runDeclarations(): { positional: [string, PositionalOptions][]; options: [string, Options][] } {
  const positional: [string, PositionalOptions][] = [];
  const options: [string, Options][] = [];
  const recorder: Argv = new Proxy({} as Argv, {
    get: (_target, method) => (...a: unknown[]) => {
      if (method === 'positional') positional.push(a as [string, PositionalOptions]);
      if (method === 'option') options.push(a as [string, Options]);
      return recorder;
    },
  });
  (runCommandModule.builder as (y: Argv) => Argv)(recorder);
  return { positional, options };
}

export const compareCommandModule: CommandModule<object, CompareArgs> = {
  ...SPECS['compare'],
  builder: (y: Argv) => {
    const run = runDeclarations();
    for (const [name, spec] of run.positional) y.positional(name, spec);
    for (const [name, spec] of run.options) if (!NOT_FROM_RUN.has(name)) y.option(name, spec);
    return y
      .option('strategies', { type: 'string', default: 'none,gc,nakayoshi,warmup', describe: 'comma-separated strategies to compare (each may join steps with +)' })
      .option('repeat', { type: 'number', default: 3, describe: 'runs per strategy (min, median and max are reported; a verdict needs ranges that do not overlap)' })
      .option('workers', { type: 'number', default: 8, describe: 'workers to project the saving to' })
      .option('json', { type: 'boolean', default: false, describe: 'print the comparison as JSON (schema cowscope.compare/1)' })
      .option('html', { type: 'string', describe: 'also write a self-contained HTML report (strategy chart, cause charts) to this file' })
      .example('$0 compare --strategies none,gc,nakayoshi,warmup,prewarm -- ruby app.rb', 'which strategy makes children copy least (3 runs each)')
      .example("$0 compare --rack config.ru --request 'GET /' --requests 100 --strategies none,warmup --workers 16", 'the same for a Rack app, projected to 16 workers')
      .epilogue(
        [
          'Each strategy runs --repeat times, in rounds (none, gc, ..., then none, gc, ... again); copied per child',
          'is copied + copied-by-parent over every child of every run. A strategy is called better than none only',
          'when its min–max range lies wholly below none\'s; otherwise the verdict is "no clear difference".',
          'PREDICTED VS NONE is what blame of the none runs predicted the strategy would save (the "What would',
          'help" of cowscope run), beside the measured saving. A prediction is also checked on the runs whose',
          'boots ended alike (for Ruby, the GC heap size at the fork point, before the strategy: a boot ends in',
          'one of a few, and children copy more after one than another); one more than 10% of none\'s copied',
          'memory off the measured saving is flagged under the table ("prediction off for ...").',
        ].join('\n'),
      ) as unknown as Argv<CompareArgs>;
  },
  handler: async (args) => {
    const rest = ((args as Record<string, unknown>)['--'] as string[] | undefined) ?? [];
    await writeReport(await compareCommand({ ...args, program: [...(args.program ?? []), ...rest.map(String)] }, process.argv.slice(2)));
  },
};
