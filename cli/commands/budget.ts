// cowscope budget: run the configured program (median of `repeat` runs) and check its memory budgets
// and the baseline. Exit 0 within, 1 a budget exceeded or a regression beyond tolerance, 2 usage or
// measurement error. Renders a table, --json, --junit FILE, and a Markdown summary for GitHub Actions.

import fs from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { BudgetResult, Check, Measured, evaluate, measure } from '../../analyzers/budget';
import type { RunReport } from '../../analyzers/run-report';
import { BudgetConfig, MAX_CONFIG_SIZE, loadBudgetConfig } from '../budget-config';
import { readRegularFile } from '../../native/regular-file';
import { FileInTheWayError, removeQuietly, tempNameFor, writeTemporary } from '../../native/files';
import { UsageError } from '../errors';
import { renderTable } from '../render/table';
import { escapeControl } from '../render/escape';
import { formatSize } from '../render/units';
import { RUN_DEFAULTS, measureRun, planRun, writeReport } from './run';
import { SPECS } from './specs';
import { sameFile, whyNotWritable } from '../writable';

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

/** A baseline's values, and the runtime they were measured on (name and version, where it says). */
interface Baseline {
  measured: Measured;
  runtime?: string;
}

function loadBaseline(file: string): Baseline | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    // bounded, and a regular file only: a FIFO would wait, /dev/zero would never end
    const doc = JSON.parse(readRegularFile(file, MAX_CONFIG_SIZE).toString('utf8'));
    if (doc?.schema !== BASELINE_SCHEMA) throw new Error(`schema ${JSON.stringify(doc?.schema)}`);
    return { measured: measuredOf(doc.measured), runtime: runtimeOf(doc.runtime) };
  } catch (e) {
    throw new UsageError(`${file} is not a cowscope baseline (${(e as Error).message}): write one with cowscope budget --update-baseline`);
  }
}

/** The most bytes a baseline's value may say (8 EiB: more than any machine maps; a limit derived from more,
 *  1e308, was Infinity, and the check silently off: QA). */
const MAX_BASELINE_BYTES = 2 ** 63;

/** The measured values of a baseline, each checked: bytes a whole number from 0 to MAX_BASELINE_BYTES, the
 *  shared ratio from 0 to 1 (a negative size made a false OVER, QA). */
function measuredOf(m: unknown): Measured {
  const o = m as Record<string, unknown>;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error('no "measured" object');
  const bytes = (what: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what} is ${JSON.stringify(v)}, not a number`);
    if (!Number.isInteger(v) || v < 0 || v > MAX_BASELINE_BYTES) throw new Error(`${what} is ${v}, not a size in bytes (a whole number from 0 to 2^63)`);
  };
  bytes('measured.copiedPerChild', o.copiedPerChild);
  bytes('measured.newPerChild', o.newPerChild);
  const ratio = o.sharedRatio;
  if (typeof ratio !== 'number' || !Number.isFinite(ratio)) throw new Error(`measured.sharedRatio is ${JSON.stringify(ratio)}, not a number`);
  if (ratio < 0 || ratio > 1) throw new Error(`measured.sharedRatio is ${ratio}, not a ratio from 0 to 1`);
  const causes = o.causes as Record<string, unknown>;
  if (!causes || typeof causes !== 'object' || Array.isArray(causes)) throw new Error('measured.causes is not an object');
  for (const [cause, v] of Object.entries(causes)) bytes(`measured.causes[${JSON.stringify(cause)}]`, v);
  return o as unknown as Measured;
}

/** "name version" of the runtime a baseline was measured on (absent: not said). Printed in a note: plain
 *  short words only (QA: an escape sequence in the version reached the terminal). */
function runtimeOf(r: unknown): string | undefined {
  if (r === undefined) return undefined;
  const o = r as Record<string, unknown>;
  const word = /^[\w.+-]{1,64}$/;
  if (!o || typeof o !== 'object' || Array.isArray(o) || typeof o.name !== 'string' || typeof o.version !== 'string')
    throw new Error(`runtime is ${JSON.stringify(r).slice(0, 80)}, not {"name": ..., "version": ...}`);
  if (!word.test(o.name) || !word.test(o.version)) throw new Error(`runtime ${JSON.stringify(`${o.name} ${o.version}`).slice(0, 80)} is not a runtime's name and version`);
  return `${o.name} ${o.version}`;
}

/** Refuses, before the runs, what would only fail after them: --update-baseline with nowhere to write,
 *  or a baseline or $GITHUB_STEP_SUMMARY that cannot be written (--junit is checked by cli/main.ts). */
function outputsWritable(cfg: BudgetConfig, updateBaseline: boolean, summary: string | undefined, junitFile: string | undefined): void {
  // no file written twice, and none the budget reads (its config, the baseline it compares with)
  const outputs: [string, string | undefined][] = [
    ['--junit', junitFile],
    ['the baseline (--update-baseline)', updateBaseline ? cfg.baseline : undefined],
    ['$GITHUB_STEP_SUMMARY', summary],
  ];
  const inputs: [string, string | undefined][] = [
    ['the config', cfg.file],
    ['the baseline', updateBaseline ? undefined : cfg.baseline],
  ];
  outputs.forEach(([name, file], i) => {
    if (!file) return;
    for (const [other, o] of outputs.slice(0, i)) if (o && sameFile(o, file)) throw new UsageError(`${other} and ${name} both name ${file}: give each its own file`);
    for (const [other, o] of inputs) if (o && sameFile(o, file)) throw new UsageError(`${name} names ${file}, which is ${other} the budget reads: write to another file`);
  });
  if (updateBaseline) {
    if (!cfg.baseline) throw new UsageError(`${cfg.file}: baseline: set "baseline": "cowscope-baseline.json" to say where --update-baseline writes`);
    const why = whyNotWritable(cfg.baseline);
    if (why) {
      const set = `set "baseline" in ${cfg.file} to`;
      const fix = {
        'no folder': `create it, or ${set} a file in a folder that exists`,
        'a folder': `${set} a file name`,
        'not a file': `${set} a regular file (it is replaced: written beside it, then renamed into place)`,
        'not writable': `${set} a file in a folder you can write`,
        'planted link': `${set} a path through the folder it leads to, if you trust it`,
      }[why.problem];
      throw new UsageError(`cannot write the baseline ${cfg.baseline} (--update-baseline): ${why.text}: ${fix}`);
    }
  }
  if (summary) {
    const why = whyNotWritable(summary, 'append');
    if (why) throw new UsageError(`cannot write $GITHUB_STEP_SUMMARY ${summary}: ${why.text}: set GITHUB_STEP_SUMMARY to a file you can write, or unset it`);
  }
}

/** Writes this invocation's files all or none (--junit, the baseline with --update-baseline, the
 *  $GITHUB_STEP_SUMMARY table): a failure at the end (a full disk) must leave no half-written file, nor
 *  some of this run's files beside the others' old versions. The replaced files are written to temporary
 *  names beside them, the summary is appended (cut back to its old length if that fails), and only then
 *  are the files renamed into place in the order given (the baseline last), each earlier version kept
 *  aside (a hard link) until all are in: a rename that fails puts the earlier versions back (removes the
 *  files that had none), and the files after it keep theirs. */
export function writeOutputs(files: { file: string; text: string }[], summary?: { file: string; text: string }): void {
  const staged: { file: string; tmp: string; kept: string }[] = [];
  const renamed: { file: string; kept: string | undefined }[] = [];
  let summaryWas: number | undefined; // its length before the append; -1: there was none; undefined: leave it
  let failed = '';
  try {
    for (const { file, text } of files) {
      failed = file;
      const tmp = tempNameFor(file);
      writeTemporary(tmp, text); // made, then staged: a name that was there is not ours to remove
      staged.push({ file, tmp, kept: `${tmp}.was` });
    }
    if (summary) {
      failed = summary.file;
      // Only a regular file is cut back: /dev/stdout, a terminal or a pipe cannot be, and need not be.
      const st = fs.statSync(summary.file, { throwIfNoEntry: false });
      summaryWas = !st ? -1 : st.isFile() ? st.size : undefined;
      fs.appendFileSync(summary.file, summary.text);
    }
    for (const { file, tmp, kept } of staged) {
      failed = file;
      // the earlier version, kept aside until every file is in (a link: nothing copied)
      const had = !!fs.lstatSync(file, { throwIfNoEntry: false })?.isFile();
      if (had) fs.linkSync(file, kept);
      fs.renameSync(tmp, file);
      renamed.push({ file, kept: had ? kept : undefined });
    }
  } catch (e) {
    // Undone as far as it goes; the error to report is the first.
    for (const { tmp } of staged) removeQuietly(tmp);
    for (const { file, kept } of renamed) {
      try {
        if (kept) fs.renameSync(kept, file);
        else fs.rmSync(file, { force: true });
      } catch {
        /* reported: the write's own error */
      }
    }
    for (const { kept } of staged) removeQuietly(kept);
    const was = summaryWas;
    if (summary && was !== undefined) {
      try {
        if (was < 0) fs.rmSync(summary.file, { force: true });
        else fs.truncateSync(summary.file, was);
      } catch {
        /* reported: the write's own error */
      }
    }
    const why = e instanceof FileInTheWayError ? e.message : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    throw new UsageError(`cannot write ${failed}: ${why}: none of this run's files were written; make room or fix the file, and run again`);
  }
  for (const { kept } of renamed) if (kept) removeQuietly(kept);
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
  const summary = process.env.GITHUB_STEP_SUMMARY || undefined;
  outputsWritable(cfg, args.updateBaseline, summary, args.junit);
  // A baseline that is no baseline is said before the runs, too.
  const baseline = cfg.baseline && !args.updateBaseline ? loadBaseline(cfg.baseline) : undefined;
  const plan = planRun(
    {
      ...RUN_DEFAULTS,
      program: cfg.program,
      rack: cfg.rack?.config,
      wsgi: cfg.wsgi?.app,
      wsgiNamed: cfg.wsgi && `${path.basename(cfg.file)}: wsgi.app ${cfg.wsgi.app}`,
      python: cfg.wsgi?.python,
      request: (cfg.rack ?? cfg.wsgi)?.requests,
      requests: (cfg.rack ?? cfg.wsgi)?.count ?? 1,
      children: cfg.children,
      strategy: cfg.strategy,
      workload: cfg.workload,
      aslr: cfg.aslr,
      timeout: cfg.timeout,
      timeoutNamed: `"timeout" in ${path.basename(cfg.file)}`,
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
  if (cfg.baseline && !baseline && !args.updateBaseline) notes.push(`no baseline at ${cfg.baseline} yet: write it with cowscope budget --update-baseline`);
  // Another interpreter lays memory out otherwise, and its copies differ whatever the app does.
  const now = `${reports[0].runtime.name} ${reports[0].runtime.version}`;
  if (baseline?.runtime && baseline.runtime !== now)
    notes.push(`the baseline was measured on ${baseline.runtime}, these runs on ${now}: a difference may be the interpreter's; record the baseline again on this one (--update-baseline)`);
  const result = evaluate(measured, cfg.budgets, baseline?.measured, cfg.tolerance, reports[0].pageSize, notes);
  const files: { file: string; text: string }[] = [];
  if (args.junit) files.push({ file: args.junit, text: junit(result) });
  if (args.updateBaseline && cfg.baseline) {
    files.push({ file: cfg.baseline, text: `${JSON.stringify({ schema: BASELINE_SCHEMA, runtime: reports[0].runtime, time: new Date().toISOString(), measured }, null, 2)}\n` });
    result.notes.push(`baseline written to ${cfg.baseline}`);
  }
  writeOutputs(files, summary ? { file: summary, text: markdown(result) } : undefined);
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
    if (!pass) process.exitCode = 1;
    await writeReport(output);
  },
};
