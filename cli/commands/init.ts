// cowscope init: measure the app in this folder once and write a commented cowscope.json whose budgets
// sit above what it measured, so that `cowscope budget` passes on the first try and fails when the app
// copies clearly more.

import fs from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { Measured, measure } from '../../analyzers/budget';
import { NO_WORKLOAD, registerHint } from '../../analyzers/run-report';
import { UsageError } from '../errors';
import { FileInTheWayError, writeFileAtomically } from '../../native/files';
import { formatSize } from '../render/units';
import { RUN_DEFAULTS, measureRun, planRun, writeReport } from './run';
import { PYTHON_NAME, wsgiSpecProblem } from '../args';
import { SPECS } from './specs';

interface InitArgs {
  config: string;
  force: boolean;
  program?: string;
  rack?: string;
  wsgi?: string;
  python?: string;
}

/** The app a config measures: a Rack app, a WSGI app (module:app, imported from the config's folder) or
 *  a Ruby or Python script, as paths relative to the config's folder. */
export type App = { rack: string } | { wsgi: string } | { program: string };

/** What init measures: the same settings it writes, so that budget measures what init measured. ASLR
 *  off: with it on, a Rack app's malloc'd copies moved by ±30% from boot to boot, and 2 budget runs in 17
 *  of an unchanged app failed the baseline's 5%; off, 12 in 12 passed. */
export const INIT_SETTINGS = { children: 2, strategy: 'none', requests: ['GET /'], count: 100, aslr: false };

/** Headroom of a size budget over the measured value: this factor, and at least MIN_HEADROOM bytes more
 *  (the median of three runs moves by a few pages; a small app's copies are all noise). */
export const SIZE_HEADROOM = 1.5;
export const MIN_HEADROOM = 1024 * 1024;
/** The sharedRatio minimum: this much below the measured share (a minimum, so headroom is downwards). */
export const RATIO_HEADROOM = 0.1;
/** Causes that get a budget of their own: the largest measured, at most this many, each at least
 *  CAUSE_SHARE of what a child copied. */
export const MAX_CAUSE_BUDGETS = 3;
export const CAUSE_SHARE = 0.1;

const isFile = (p: string) => fs.existsSync(p) && fs.statSync(p).isFile();
const scriptsIn = (dir: string, ext: string) => fs.readdirSync(dir).filter((f) => f.endsWith(ext) && isFile(path.join(dir, f))).sort();

/** The WSGI modules of Django projects in dir: X.wsgi for every X/wsgi.py beside an X/settings.py (what
 *  django-admin startproject writes; gunicorn serves X.wsgi:application). */
function djangoWsgi(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((d) => /^[A-Za-z_]\w*$/.test(d) && isFile(path.join(dir, d, 'wsgi.py')) && isFile(path.join(dir, d, 'settings.py')))
    .sort()
    .map((d) => `${d}.wsgi:application`);
}

/** How init finds the app in a folder, in order: the first rule that finds exactly one wins; a rule that
 *  finds several asks which. */
const APP_RULES: { what: string; find: (dir: string) => App[] }[] = [
  { what: 'config.ru', find: (dir) => (isFile(path.join(dir, 'config.ru')) ? [{ rack: 'config.ru' }] : []) },
  { what: 'a Django project (X/wsgi.py beside X/settings.py)', find: (dir) => djangoWsgi(dir).map((wsgi) => ({ wsgi })) },
  { what: 'app.rb', find: (dir) => (isFile(path.join(dir, 'app.rb')) ? [{ program: 'app.rb' }] : []) },
  { what: 'app.py', find: (dir) => (isFile(path.join(dir, 'app.py')) ? [{ program: 'app.py' }] : []) },
  { what: 'a lone .rb or .py script', find: (dir) => [...scriptsIn(dir, '.rb'), ...scriptsIn(dir, '.py')].map((program) => ({ program })) },
];

const appName = (app: App) => ('rack' in app ? app.rack : 'wsgi' in app ? app.wsgi : app.program);
const appFlag = (app: App) => ('rack' in app ? `--rack ${app.rack}` : 'wsgi' in app ? `--wsgi ${app.wsgi}` : `--program ${app.program}`);

/** The app in dir (APP_RULES), or the one named; a named file must exist, a WSGI app be module:app. */
export function findApp(dir: string, given: { program?: string; rack?: string; wsgi?: string } = {}): App {
  const rel = (file: string, flag: string): string => {
    const full = path.resolve(file);
    if (!fs.existsSync(full)) throw new UsageError(`${flag} ${file} does not exist: check the path`);
    if (!fs.statSync(full).isFile()) throw new UsageError(`${flag} ${file} is ${fs.statSync(full).isDirectory() ? 'a folder' : 'not a regular file'}: name a file`);
    return path.relative(dir, full) || path.basename(full);
  };
  const named = (['program', 'rack', 'wsgi'] as const).filter((k) => given[k] !== undefined);
  if (named.length > 1) throw new UsageError(`give one of --program, --rack and --wsgi, not ${named.map((k) => `--${k}`).join(' and ')}`);
  if (given.rack) return { rack: rel(given.rack, '--rack') };
  if (given.program) return { program: rel(given.program, '--program') };
  if (given.wsgi) {
    const problem = wsgiSpecProblem(given.wsgi, (w) => `--wsgi ${w}`);
    if (problem) throw new UsageError(problem);
    return { wsgi: given.wsgi };
  }
  for (const rule of APP_RULES) {
    const found = rule.find(dir);
    if (found.length === 1) return found[0];
    if (found.length > 1)
      throw new UsageError(`which app should cowscope measure (${found.map(appName).join(', ')})? name it: cowscope init ${appFlag(found[0])}`);
  }
  throw new UsageError(
    `no Ruby or Python app in ${dir} (none of: ${APP_RULES.map((r) => r.what).join(', ')}): run cowscope init in the app's folder, or name it with --program app.rb, --rack config.ru or --wsgi module:app`,
  );
}

/** The units of a written size: the ones formatSize prints that budget reads back. */
const SIZE_UNITS = ['K', 'M', 'G'];

/** A size as every other command prints it (formatSize: 1024-based K/M/G, one decimal), but rounded up,
 *  so that the limit stays above the value: "640.0K", "6.3M". budget reads it back (a bare K/M/G is
 *  1024-based there), so a printed size and a written one mean the same bytes. */
export function roundUpSize(bytes: number): string {
  let v = bytes / 1024;
  let unit = 0;
  while (v >= 1024 && unit < SIZE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  const tenths = Math.ceil(v * 10 - 1e-9); // 2.2M is 22.000000000000004 tenths, not 23
  // 1023.95K rounds up to the next unit's 1.0M, not to 1024.0K
  if (tenths >= 10240 && unit < SIZE_UNITS.length - 1) return `1.0${SIZE_UNITS[unit + 1]}`;
  return `${(tenths / 10).toFixed(1)}${SIZE_UNITS[unit]}`;
}

/** A measured size (a median may fall between two bytes) as the other commands print it. */
const shown = (bytes: number) => formatSize(Math.round(bytes));

const sizeLimit = (measured: number) => roundUpSize(Math.max(measured * SIZE_HEADROOM, measured + MIN_HEADROOM));

/** The budgets init writes for what one run measured. */
export function budgetsFor(m: Measured): { copiedPerChild: string; newPerChild: string; sharedRatio: number; causes: Record<string, string> } {
  const causes = Object.entries(m.causes)
    .filter(([, bytes]) => bytes > 0 && bytes >= CAUSE_SHARE * m.copiedPerChild)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_CAUSE_BUDGETS);
  return {
    copiedPerChild: sizeLimit(m.copiedPerChild),
    newPerChild: sizeLimit(m.newPerChild),
    sharedRatio: Math.max(0, Math.floor(100 * (m.sharedRatio - RATIO_HEADROOM) + 1e-9) / 100),
    causes: Object.fromEntries(causes.map(([cause, bytes]) => [cause, sizeLimit(bytes)])),
  };
}

/** The commented config for an app and what one run of it measured (on `ruby`, at `time`); `interpreter`:
 *  the Python init was told to run it with (--python), written into the config so budget runs it too. */
export function initConfig(app: App, m: Measured, about: { ruby: string; time: string }, interpreter?: string): string {
  const b = budgetsFor(m);
  const py = interpreter ? `, "python": ${JSON.stringify(interpreter)}` : '';
  const python = 'wsgi' in app || ('program' in app && app.program.endsWith('.py'));
  const program =
    'rack' in app
      ? `  // The Rack app is loaded as the preload; each child sends it these requests \`count\` times.
  "rack": { "config": ${JSON.stringify(app.rack)}, "requests": ${JSON.stringify(INIT_SETTINGS.requests)}, "count": ${INIT_SETTINGS.count} },`
      : 'wsgi' in app
        ? `  // The WSGI app (gunicorn's module:app, imported from this folder by "python", default python3) is
  // loaded as the preload; each child sends it these requests \`count\` times.
  "wsgi": { "app": ${JSON.stringify(app.wsgi)}, "requests": ${JSON.stringify(INIT_SETTINGS.requests)}, "count": ${INIT_SETTINGS.count}${py} },`
      : app.program.endsWith('.py')
        ? `  // The program: a Python script (forked at its end or at cowscope.fork_point()), or a command such as
  // ["python3.12", ${JSON.stringify(app.program)}]. Its children run its cowscope.workload function, or "workload".
  "program": ${interpreter ? JSON.stringify([interpreter, app.program]) : JSON.stringify(app.program)},
  // "workload": "workload.py",`
        : `  // The program: a script (forked at its end or at Cowscope.fork_point), or a command such as
  // ["ruby", "-Ilib", ${JSON.stringify(app.program)}]. Its children run its Cowscope.workload block, or "workload".
  "program": ${JSON.stringify(app.program)},
  // "workload": "workload.rb",`;
  const causeLines = Object.entries(b.causes).map(([cause, limit]) => `      // measured ${shown(m.causes[cause])}\n      ${JSON.stringify(cause)}: ${JSON.stringify(limit)}`);
  return `// cowscope budget config: \`cowscope budget\` runs this and fails CI when workers share less memory.
// Sizes: "24.0M", "512.0K" (1024-based, as cowscope prints sizes; also "24MiB", "512KiB"), "24MB"
// (10^6-based), or bytes; paths are relative to this file.
//
// cowscope init measured this app once (${about.time}, ${about.ruby}, ${INIT_SETTINGS.children} children) and set
// every budget above what it measured: sizes ${SIZE_HEADROOM}x the measured value (and at least ${formatSize(MIN_HEADROOM)} more),
// the shared ratio ${RATIO_HEADROOM} below it. Tighten them once you know how much your app's copies vary.
{
${program}
  "children": ${INIT_SETTINGS.children},
  // What the parent does before forking: ${python ? 'none, gc, freeze, disable, trim' : 'none, gc, nakayoshi, compact, warmup, prewarm, …'} (see README).
  "strategy": ${JSON.stringify(INIT_SETTINGS.strategy)},
  // Runs per check; the median counts.
  "repeat": 3,
  // Address-space randomisation off for the runs (as cowscope run --no-aslr): each boot places memory
  // alike, so a run is compared with the baseline and not with another layout.
  "aslr": ${INIT_SETTINGS.aslr},
  "budgets": {
    // The most memory each child may copy (its own pages that were shared at the fork); measured ${shown(m.copiedPerChild)}.
    "copiedPerChild": ${JSON.stringify(b.copiedPerChild)},
    // The least share of each child's pages that must still be shared with the parent; measured ${m.sharedRatio.toFixed(3)}.
    "sharedRatio": ${b.sharedRatio},
    // The most each child may allocate after the fork; measured ${shown(m.newPerChild)}.
    "newPerChild": ${JSON.stringify(b.newPerChild)}${causeLines.length ? ',' : ''}
${
  causeLines.length
    ? `    // The most each of the largest causes may copy per child (cowscope run explains every cause).
    "causes": {
${causeLines.join(',\n')}
    }
`
    : ''
}  },
  // Record with \`cowscope budget --update-baseline\`; later runs fail when a cause grows past the tolerance.
  "baseline": "cowscope-baseline.json",
  "tolerance": "5%"
}
`;
}

export const initCommandModule: CommandModule<object, InitArgs> = {
  ...SPECS['init'],
  builder: (y: Argv) =>
    y
      .option('config', { type: 'string', default: 'cowscope.json', describe: 'where to write it' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing file' })
      .option('program', { type: 'string', describe: 'the script to measure, Ruby or Python (a .py runs with python3)' })
      .option('rack', { type: 'string', describe: 'the Rack app to measure' })
      .option('wsgi', { type: 'string', describe: 'the Python WSGI app to measure, module:app as gunicorn takes it (imported from the folder)' })
      .option('python', { type: 'string', describe: 'the Python to run a Python app with (default python3 on PATH), written into the config' })
      .example('$0 init', 'measure the app in this folder once and write cowscope.json with budgets above that')
      .example('$0 init --program bin/preload.rb', 'name the script to measure')
      .example('$0 init --wsgi mysite.wsgi:application', 'a WSGI app (found by itself in a Django project: X/wsgi.py beside X/settings.py)')
      .epilogue(`Without --program, --rack or --wsgi, the app is the first of: ${APP_RULES.map((r) => r.what).join('; ')} in the folder.`) as Argv<InitArgs>,
  handler: async (args) => {
    // that it can be written at all, cli/main.ts checked (OUTPUT_FILES)
    if (fs.existsSync(args.config) && !args.force) throw new UsageError(`${args.config} exists: edit it, or pass --force to replace it`);
    const dir = path.dirname(path.resolve(args.config));
    const app = findApp(dir, args);
    const name = appName(app);
    const isPython = 'wsgi' in app || ('program' in app && app.program.endsWith('.py'));
    if (args.python !== undefined && !isPython) throw new UsageError(`--python goes with a Python app (a .py script or --wsgi), not ${name}`);
    if (args.python !== undefined && !PYTHON_NAME.test(args.python)) throw new UsageError(`--python ${args.python} names no Python interpreter: give python3, python3.12 or its path`);
    process.stderr.write(`cowscope: measuring ${name} once (${INIT_SETTINGS.children} children, strategy ${INIT_SETTINGS.strategy}) to set the budgets\n`);
    const plan = planRun(
      {
        ...RUN_DEFAULTS,
        program: 'program' in app ? [app.program] : [],
        rack: 'rack' in app ? app.rack : undefined,
        wsgi: 'wsgi' in app ? app.wsgi : undefined,
        python: args.python,
        // requests are a Rack or WSGI app's (a script's children run its workload)
        request: 'program' in app ? [] : INIT_SETTINGS.requests,
        requests: 'program' in app ? 1 : INIT_SETTINGS.count,
        children: INIT_SETTINGS.children,
        strategy: INIT_SETTINGS.strategy,
        aslr: INIT_SETTINGS.aslr,
        cwd: dir,
      },
      process.stderr,
    );
    const { report } = (await measureRun(plan, process.argv.slice(2))).analysis;
    // A config whose children run nothing checks the fork alone, and passes whatever the app's requests
    // copy (QA: a WSGI app.py, measured as a script, wrote such a config with a warning on stderr).
    if (report.workload === NO_WORKLOAD)
      throw new UsageError(
        `${name} registered no workload before the fork point, so its children ran nothing and there is nothing to budget: ${registerHint(report.runtime.name)}${'program' in app && app.program.endsWith('.py') ? ', or name a WSGI app with --wsgi module:app' : ', or name a Rack app with --rack config.ru'} (a config's "workload" field runs a file instead); nothing written`,
      );
    const m = measure([report]);
    // Written only now, and whole or not at all (beside it, then renamed): a run that failed, or a full
    // disk, leaves no config behind, nor half of one.
    try {
      writeFileAtomically(args.config, initConfig(app, m, { ruby: `${report.runtime.name} ${report.runtime.version}`, time: report.time.slice(0, 10) }, args.python));
    } catch (e) {
      if (e instanceof FileInTheWayError) throw e;
      throw new UsageError(`cannot write ${args.config} (--config): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const b = budgetsFor(m);
    // budget reads ./cowscope.json unless told otherwise
    const configFlag = path.resolve(args.config) === path.resolve('cowscope.json') ? '' : ` --config ${args.config}`;
    await writeReport(
      [
        `measured per child: copied ${shown(m.copiedPerChild)}, new ${shown(m.newPerChild)}, shared ${(100 * m.sharedRatio).toFixed(1)}%`,
        `wrote ${args.config} with budgets above that: copiedPerChild ${b.copiedPerChild}, newPerChild ${b.newPerChild}, sharedRatio >= ${b.sharedRatio}${Object.entries(b.causes)
          .map(([c, l]) => `, ${c} ${l}`)
          .join('')}`,
        `next: cowscope budget${configFlag} (checks them), then cowscope budget${configFlag} --update-baseline (records the baseline)`,
        '',
      ].join('\n'),
    );
  },
};
