// cowscope budget: run the configured program (median of `repeat` runs) and check its memory budgets
// and the baseline. Exit 0 within, 1 a budget exceeded or a regression beyond tolerance, 2 usage or
// measurement error. Renders a table, --json, --junit FILE, and a Markdown summary for GitHub Actions.

import fs from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { BudgetResult, Check, Measured, evaluate, measure } from '../../analyzers/budget';
import type { RunReport } from '../../analyzers/run-report';
import { loadBudgetConfig } from '../budget-config';
import { writeFileAtomically } from '../../native/files';
import { UsageError } from '../errors';
import { renderTable } from '../render/table';
import { escapeControl } from '../render/escape';
import { formatSize } from '../render/units';
import { RUN_DEFAULTS, measureRun, planRun } from './run';
import { SPECS } from './specs';

interface BudgetArgs {
  config: string;
  updateBaseline: boolean;
  junit?: string;
  json: boolean;
}

const BASELINE_SCHEMA = 'cowscope.baseline/1';

function show(c: Pick<Check, 'unit'>, v: number): string {
  return c.unit === 'ratio' ? `${(100 * v).toFixed(1)}%` : formatSize(Math.round(v));
}

function loadBaseline(file: string): Measured | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (doc.schema !== BASELINE_SCHEMA || !doc.measured) throw new Error(`schema ${JSON.stringify(doc.schema)}`);
    return doc.measured as Measured;
  } catch (e) {
    throw new UsageError(`${file} is not a cowscope baseline (${(e as Error).message}): write one with cowscope budget --update-baseline`);
  }
}

function writeAtomically(file: string, text: string): void {
  try {
    writeFileAtomically(file, text);
  } catch (e) {
    throw new UsageError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A failed check's status: sizes are maximums (OVER), the shared ratio is a minimum (UNDER). */
function status(c: Check): string {
  return c.pass ? 'ok' : c.unit === 'ratio' ? 'UNDER' : 'OVER';
}

function failureText(c: Check): string {
  const verb = c.unit === 'ratio' ? 'below the minimum' : 'over the limit';
  return `${c.name}: measured ${show(c, c.measured)}, ${verb} ${show(c, c.limit)}`;
}

export function junit(r: BudgetResult): string {
  const failures = r.checks.filter((c) => !c.pass).length;
  const cases = r.checks.map((c) =>
    c.pass
      ? `    <testcase classname="cowscope.${c.kind}" name="${xml(c.name)}"/>`
      : `    <testcase classname="cowscope.${c.kind}" name="${xml(c.name)}">\n      <failure message="${xml(failureText(c))}">${xml(failureText(c))}</failure>\n    </testcase>`,
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="cowscope budget" tests="${r.checks.length}" failures="${failures}">`,
    `  <testsuite name="cowscope budget" tests="${r.checks.length}" failures="${failures}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function markdown(r: BudgetResult): string {
  const rows = r.checks.map((c) => `| ${c.name} | ${c.unit === 'ratio' ? '>= ' : '<= '}${show(c, c.limit)} | ${show(c, c.measured)} | ${c.pass ? 'ok' : `**${status(c).toLowerCase()}**`} |`);
  const grew = r.grew.map((g) => `- \`${escapeControl(g.cause)}\`: ${formatSize(Math.round(g.baseline))} → ${formatSize(Math.round(g.measured))}`);
  return [
    `### cowscope budget: ${r.pass ? 'within budget' : 'over budget'}`,
    '',
    '| Budget | Limit | Measured | Status |',
    '|---|---|---|---|',
    ...rows,
    ...(grew.length ? ['', 'Causes that grew against the baseline:', ...grew] : []),
    ...r.notes.map((n) => `\n_${n}_`),
    '',
  ].join('\n');
}

function text(r: BudgetResult): string {
  const out = [
    renderTable(
      ['BUDGET', 'LIMIT', 'MEASURED', 'STATUS'],
      r.checks.map((c) => [c.name, `${c.unit === 'ratio' ? '>= ' : '<= '}${show(c, c.limit)}`, show(c, c.measured), status(c)]),
      [1, 2],
    ),
  ];
  if (r.grew.length) {
    out.push('', 'Causes that grew against the baseline:');
    for (const g of r.grew) out.push(`  ${escapeControl(g.cause)}: ${formatSize(Math.round(g.baseline))} -> ${formatSize(Math.round(g.measured))}`);
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  out.push('', r.pass ? 'cowscope budget: within budget' : `cowscope budget: over budget (${r.checks.filter((c) => !c.pass).map((c) => c.name).join(', ')})`);
  return `${out.join('\n')}\n`;
}

export async function budgetCommand(args: BudgetArgs, command: string[]): Promise<{ output: string; pass: boolean }> {
  const cfg = loadBudgetConfig(args.config);
  const plan = planRun(
    {
      ...RUN_DEFAULTS,
      program: cfg.program,
      rack: cfg.rack?.config,
      request: cfg.rack?.requests,
      requests: cfg.rack?.count ?? 1,
      children: cfg.children,
      strategy: cfg.strategy,
      workload: cfg.workload,
      aslr: cfg.aslr,
      cwd: cfg.dir,
    },
    process.stderr,
  );
  const reports: RunReport[] = [];
  for (let i = 0; i < cfg.repeat; i++) {
    process.stderr.write(`cowscope: run ${i + 1} of ${cfg.repeat}\n`);
    reports.push((await measureRun(plan, command)).analysis.report);
  }
  const measured = measure(reports);
  const notes: string[] = [];
  const baseline = cfg.baseline && !args.updateBaseline ? loadBaseline(cfg.baseline) : undefined;
  if (cfg.baseline && !baseline && !args.updateBaseline) notes.push(`no baseline at ${cfg.baseline} yet: write it with cowscope budget --update-baseline`);
  const result = evaluate(measured, cfg.budgets, baseline, cfg.tolerance, reports[0].pageSize, notes);
  if (args.updateBaseline) {
    if (!cfg.baseline) throw new UsageError(`${cfg.file}: baseline: set "baseline": "cowscope-baseline.json" to say where --update-baseline writes`);
    writeAtomically(cfg.baseline, `${JSON.stringify({ schema: BASELINE_SCHEMA, runtime: reports[0].runtime, time: new Date().toISOString(), measured }, null, 2)}\n`);
    result.notes.push(`baseline written to ${cfg.baseline}`);
  }
  if (args.junit) writeAtomically(args.junit, junit(result));
  if (process.env.GITHUB_STEP_SUMMARY) fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, markdown(result));
  return { output: args.json ? `${JSON.stringify(result, null, 2)}\n` : text(result), pass: result.pass };
}

export const budgetCommandModule: CommandModule<object, BudgetArgs> = {
  ...SPECS['budget'],
  builder: (y: Argv) =>
    y
      .option('config', { type: 'string', default: 'cowscope.json', describe: 'the config file (write a starting one with cowscope init)' })
      .option('update-baseline', { type: 'boolean', default: false, describe: 'write the measured values to the baseline file' })
      .option('junit', { type: 'string', describe: 'also write a JUnit XML report (one testcase per budget) to this file' })
      .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON (schema cowscope.budget/1)' })
      .example('$0 budget', 'check cowscope.json')
      .example('$0 budget --update-baseline', 'after an accepted change: record the new baseline')
      .epilogue('Exit codes: 0 within budget, 1 a budget exceeded or a regression beyond tolerance, 2 usage or measurement error.\nWith $GITHUB_STEP_SUMMARY set, a Markdown table is appended to it.') as unknown as Argv<BudgetArgs>,
  handler: async (args) => {
    const { output, pass } = await budgetCommand(args, process.argv.slice(2));
    process.stdout.write(output);
    if (!pass) process.exitCode = 1;
  },
};
