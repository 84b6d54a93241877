// The budget config (cowscope.json): JSON, with // comments allowed, validated field by field. Every
// error names the file and the field and says what to write instead.

import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors';
import { DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, PYTHON_NAME, scriptIndex, wsgiSpecProblem } from './args';
import { which } from '../native/machine';
import { isCause, nearestCauses } from '../blame/catalog';
import { FileShapeError, readRegularFile } from '../native/regular-file';
import { STRATEGY_STEPS } from '../runtimes/ruby/layouts';
import { PYTHON_STRATEGY_STEPS } from '../runtimes/python/layouts';

/** A cowscope.json is a few hundred bytes; anything past this is not one. */
export const MAX_CONFIG_SIZE = 1024 * 1024;

export interface BudgetConfig {
  /** the folder of the config file: relative paths in it are relative to this */
  dir: string;
  file: string;
  program: string[];
  rack?: { config: string; requests: string[]; count: number };
  /** a Python WSGI app (run --wsgi): module:app imported from the config's folder, by `python` */
  wsgi?: { app: string; requests: string[]; count: number; python: string };
  children: number;
  strategy: string;
  workload?: string;
  repeat: number;
  /** false: the program starts with address-space randomisation off (run --no-aslr): repeated runs place
   *  memory alike, so a baseline is not compared across layouts (a small app's copies vary ~10% with them) */
  aslr: boolean;
  /** seconds for the boot, and again for each step after the fork point (run --timeout) */
  timeout: number;
  budgets: {
    copiedPerChild?: number;
    sharedRatio?: number;
    newPerChild?: number;
    causes: Record<string, number>;
  };
  baseline?: string;
  tolerance: { percent: number } | { bytes: number };
}

/** Size units, case-insensitive. KiB/MiB/GiB are 1024-based and KB/MB/GB 1000-based, as their names
 *  say; a bare K/M/G is 1024-based, as cowscope and smem print sizes ("24.0M"), so a printed size can
 *  be pasted back. */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/** "24MiB", "24MB", "512KiB", "1.5GiB", "24.0M", "4096" or a whole number: bytes. (A fraction of a
 *  byte is no size: 0.05 was meant as 5%.) */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m || !Object.hasOwn(UNITS, m[2].toLowerCase())) return undefined;
  const bytes = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  return Number.isFinite(bytes) ? bytes : undefined; // 400 digits are Infinity, not a size
}

/** Removes // comments that are outside strings, so a config can explain itself. */
/** " (line L, column C)" of the position a JSON.parse message names, in the text it parsed (comments
 *  stripped keep their line breaks, so the line is the file's), or "" where it names none. */
function jsonWhere(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m) return '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return ` (line ${line}, column ${Number(m[1]) - before.lastIndexOf('\n')})`;
}

export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else out += c;
  }
  return out;
}

/** A program's first word that names its interpreter (ruby, python3.12, /usr/bin/python3): which. */
const INTERPRETER = /(^|\/)(ruby|python)[\d.]*$/;

/** The strategy steps of each runtime. */
const STEPS_OF = { ruby: { name: 'Ruby', steps: STRATEGY_STEPS }, python: { name: 'Python', steps: PYTHON_STRATEGY_STEPS } } as const;

/** The runtime a config's app runs on, where the config says: a Rack app is Ruby's, a WSGI app
 *  Python's; a program by its interpreter (ruby, python3.12) or its script (.rb, .py). */
function appRuntime(rack: unknown, wsgi: unknown, program: string[]): 'ruby' | 'python' | undefined {
  if (rack) return 'ruby';
  if (wsgi) return 'python';
  if (!program.length) return undefined;
  const interpreter = INTERPRETER.exec(program[0])?.[2];
  if (interpreter) return interpreter as 'ruby' | 'python';
  const script = program[scriptIndex(program, 0)] ?? '';
  return script.endsWith('.rb') ? 'ruby' : script.endsWith('.py') ? 'python' : undefined;
}

export function loadBudgetConfig(file: string): BudgetConfig {
  let text: string;
  try {
    text = readRegularFile(file, MAX_CONFIG_SIZE).toString('utf8');
  } catch (e) {
    if (e instanceof FileShapeError) throw new UsageError(`${file} ${e.message}${e.code === 'EFBIG' ? ' for a config' : ''}: give the cowscope.json config file (write one with \`cowscope init\`)`);
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `no config at ${file}: write one with \`cowscope init\`, or pass --config FILE` : `cannot read ${file}: ${code ?? (e as Error).message}`,
    );
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(stripComments(text));
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}${jsonWhere(stripComments(text), (e as Error).message)}: fix it there, or write a new one with \`cowscope init\``);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`${file}: the config must be a JSON object`);
  const dir = path.dirname(path.resolve(file));
  const bad = (field: string, what: string) => new UsageError(`${file}: ${field}: ${what}`);
  // A number of 309 digits or more is Infinity to JSON.parse, and JSON.stringify prints that as null.
  const shown = (v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `${v} (a number too large)` : JSON.stringify(v));
  const known = new Set(['program', 'rack', 'wsgi', 'children', 'strategy', 'workload', 'repeat', 'aslr', 'timeout', 'budgets', 'baseline', 'tolerance']);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw bad(k, `unknown field (known: ${[...known].join(', ')})`);

  const file_ = (field: string, v: unknown): string => {
    if (typeof v !== 'string' || !v) throw bad(field, 'must be a file name (a string)');
    const p = path.resolve(dir, v);
    if (!fs.existsSync(p)) throw bad(field, `${v} does not exist (paths are relative to the config's folder)`);
    return p;
  };
  const int = (field: string, v: unknown, dflt: number, min: number, max: number): number => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw bad(field, `must be a whole number from ${min} to ${max}, not ${shown(v)}`);
    return v as number;
  };

  let program: string[] = [];
  if (raw.program !== undefined) {
    if (typeof raw.program === 'string') program = [raw.program];
    else if (Array.isArray(raw.program) && raw.program.every((x) => typeof x === 'string') && raw.program.length) program = raw.program as string[];
    else throw bad('program', 'must be a script ("app.rb", "app.py") or a command (["ruby", "-Ilib", "app.rb"], ["python3", "app.py"])');
    // Like `cowscope run`: a first word that is ruby or python is the interpreter; the script is the first
    // word that is not an option, and its path is checked (the program also runs in the config's folder).
    const interpreter = INTERPRETER.test(program[0]);
    const script = scriptIndex(program, interpreter ? 1 : 0);
    if (script >= 0) program[script] = file_(`program[${script}]`, program[script]);
    // (the run would say to pass --python or --ruby, which budget has not)
    if (interpreter && (program[0].includes('/') ? !fs.existsSync(path.resolve(dir, program[0])) : !which(program[0])))
      throw bad('program[0]', `no ${program[0]}${program[0].includes('/') ? '' : ' on PATH'}: install it, or give its path`);
  }
  // A misspelt field would be ignored, and its default used ("pyhton": the default python3 measured).
  const knownFields = (field: string, o: Record<string, unknown>, keys: string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${field}.${k}`, `unknown field (known: ${keys.join(', ')})`);
  };
  // The requests of a Rack or WSGI app: "METHOD /path" strings (default GET /), sent `count` times.
  const appRequests = (field: string, r: Record<string, unknown>) => {
    const requests = r.requests === undefined ? ['GET /'] : r.requests;
    if (!Array.isArray(requests) || !requests.every((x) => typeof x === 'string' && /^[A-Z]+ \/\S*$/.test(x)))
      throw bad(`${field}.requests`, 'must be a list of "METHOD /path" strings, e.g. ["GET /", "GET /users"]');
    return { requests: requests as string[], count: int(`${field}.count`, r.count, 1, 1, 1_000_000) };
  };
  let rack: BudgetConfig['rack'];
  if (raw.rack !== undefined) {
    const r = raw.rack as Record<string, unknown>;
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw bad('rack', 'must be an object: {"config": "config.ru", "requests": ["GET /"], "count": 100}');
    knownFields('rack', r, ['config', 'requests', 'count']);
    rack = { config: file_('rack.config', r.config), ...appRequests('rack', r) };
  }
  let wsgi: BudgetConfig['wsgi'];
  if (raw.wsgi !== undefined) {
    const w = raw.wsgi as Record<string, unknown>;
    if (!w || typeof w !== 'object' || Array.isArray(w)) throw bad('wsgi', 'must be an object: {"app": "mysite.wsgi:application", "requests": ["GET /"], "count": 100}');
    knownFields('wsgi', w, ['app', 'requests', 'count', 'python']);
    if (typeof w.app !== 'string' || !w.app) throw bad('wsgi.app', 'must be the WSGI app as gunicorn names it (a string): "mysite.wsgi:application"');
    const problem = wsgiSpecProblem(w.app, (app) => `"app": ${JSON.stringify(app)}`);
    if (problem) throw bad('wsgi.app', problem);
    if (w.python !== undefined && (typeof w.python !== 'string' || !PYTHON_NAME.test(w.python)))
      throw bad('wsgi.python', `must name a Python interpreter ("python3", "python3.12" or its path), not ${shown(w.python)}`);
    // a path is relative to the config's folder, a bare name looked up on PATH
    const python = (w.python as string | undefined) ?? 'python3';
    wsgi = { app: w.app, ...appRequests('wsgi', w), python: python.includes('/') ? path.resolve(dir, python) : python };
    if (python.includes('/') ? !fs.existsSync(wsgi.python) : !which(python))
      throw bad('wsgi.python', `no Python at ${python}: install it (apt-get install python3) or give its path`);
  }
  const apps = [program.length && 'program', rack && 'rack', wsgi && 'wsgi'].filter(Boolean) as string[];
  if (!apps.length) throw bad('program', 'give the program ("program": "app.rb"), a Rack app ("rack": {"config": "config.ru"}) or a WSGI app ("wsgi": {"app": "mysite.wsgi:application"})');
  if (apps.length > 1) throw bad(apps[1], `give one of program, rack and wsgi, not ${apps.join(' and ')}`);
  if (raw.workload !== undefined && (rack || wsgi)) throw bad('workload', `a file the children run instead of the requests of ${rack ? 'rack' : 'wsgi'}: give one or the other`);
  if (raw.strategy !== undefined && typeof raw.strategy !== 'string') throw bad('strategy', 'must be a string such as "none" or "warmup"');
  // The steps of the app's runtime, where the config tells it (a Rack or WSGI app, a .rb or .py script,
  // a ruby or python interpreter); else of either (the run checks its own). QA: "freeze" for a Ruby app
  // was refused by the run, in words that named no field of the config.
  const runtime = appRuntime(rack, wsgi, program);
  const runtimes = runtime ? [STEPS_OF[runtime]] : Object.values(STEPS_OF);
  for (const step of typeof raw.strategy === 'string' ? raw.strategy.split('+') : [])
    if (!runtimes.some((r) => (r.steps as readonly string[]).includes(step)))
      throw bad(
        'strategy',
        `unknown step "${step}"${runtime ? ` for a ${STEPS_OF[runtime].name} app: use ${runtimes[0].steps.join(', ')}` : `: use ${runtimes.map((r) => `${r.steps.join(', ')} (${r.name})`).join(' or ')}`}, joined with +`,
      );

  const b = (raw.budgets === undefined ? {} : raw.budgets) as Record<string, unknown>;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw bad('budgets', 'must be an object');
  for (const k of Object.keys(b))
    if (!['copiedPerChild', 'sharedRatio', 'newPerChild', 'causes'].includes(k)) throw bad(`budgets.${k}`, 'unknown budget (known: copiedPerChild, sharedRatio, newPerChild, causes)');
  const causesGiven = b.causes === undefined ? 0 : b.causes && typeof b.causes === 'object' && !Array.isArray(b.causes) ? Object.keys(b.causes).length : 1;
  if (raw.budgets !== undefined && b.copiedPerChild === undefined && b.sharedRatio === undefined && b.newPerChild === undefined && !causesGiven)
    throw bad(
      'budgets',
      'nothing to check: give at least one of copiedPerChild ("24MiB"), newPerChild ("8MiB"), sharedRatio (0.9) or causes ({"string.coderange": "1MiB"}), or leave budgets out to check only the baseline',
    );
  const size = (field: string, v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const n = parseSize(v);
    if (n === undefined) throw bad(field, `${shown(v)} is not a size: write e.g. "24MiB", "512KiB" or a number of bytes`);
    return n;
  };
  let sharedRatio: number | undefined;
  if (b.sharedRatio !== undefined) {
    if (typeof b.sharedRatio !== 'number' || b.sharedRatio < 0 || b.sharedRatio > 1) throw bad('budgets.sharedRatio', 'must be a number from 0 to 1 (the minimum share of pages still shared)');
    sharedRatio = b.sharedRatio;
  }
  const causes: Record<string, number> = {};
  if (b.causes !== undefined) {
    if (!b.causes || typeof b.causes !== 'object' || Array.isArray(b.causes)) throw bad('budgets.causes', 'must be an object such as {"string.coderange": "1MiB"}');
    for (const [cause, v] of Object.entries(b.causes)) {
      // A misspelt id would never match a measured cause, and its budget would always pass.
      if (!isCause(cause)) throw bad(`budgets.causes.${cause}`, `unknown cause id: did you mean ${nearestCauses(cause).map((c) => `"${c}"`).join(' or ')}? (README lists every cause)`);
      causes[cause] = size(`budgets.causes.${cause}`, v)!;
    }
  }

  let tolerance: BudgetConfig['tolerance'] = { percent: 5 };
  if (raw.tolerance !== undefined) {
    const t = raw.tolerance;
    const pct = typeof t === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(t) : null;
    if (pct && Number.isFinite(Number(pct[1]))) tolerance = { percent: Number(pct[1]) };
    else if (typeof t === 'number' && t > 0 && t < 1) throw bad('tolerance', `${t} is a fraction, not a size in bytes: write "${+(100 * t).toFixed(6)}%" for a percentage, or a size ("1MiB")`);
    else {
      const n = parseSize(t);
      if (n === undefined) throw bad('tolerance', `${shown(t)} is neither a percentage ("5%") nor a size ("1MiB")`);
      tolerance = { bytes: n };
    }
  }
  if (raw.baseline !== undefined && (typeof raw.baseline !== 'string' || !raw.baseline)) throw bad('baseline', 'must be a file name (a string)');
  if (raw.aslr !== undefined && typeof raw.aslr !== 'boolean') throw bad('aslr', 'must be true or false');
  if (raw.timeout !== undefined && !(typeof raw.timeout === 'number' && raw.timeout > 0 && raw.timeout <= MAX_TIMEOUT_SECONDS))
    throw bad('timeout', `must be a number of seconds above 0, at most ${MAX_TIMEOUT_SECONDS} (a day), not ${shown(raw.timeout)}`);

  const config: BudgetConfig = {
    dir,
    file,
    program,
    rack,
    wsgi,
    children: int('children', raw.children, 2, 1, 64),
    strategy: (raw.strategy as string | undefined) ?? 'none',
    workload: raw.workload === undefined ? undefined : file_('workload', raw.workload),
    repeat: int('repeat', raw.repeat, 3, 1, 50),
    aslr: raw.aslr !== false,
    timeout: (raw.timeout as number | undefined) ?? DEFAULT_TIMEOUT_SECONDS,
    budgets: { copiedPerChild: size('budgets.copiedPerChild', b.copiedPerChild), sharedRatio, newPerChild: size('budgets.newPerChild', b.newPerChild), causes },
    baseline: raw.baseline === undefined ? undefined : path.resolve(dir, raw.baseline as string),
    tolerance,
  };
  // Checked after every field, so that a wrong field is named first. Nothing to check would pass every
  // time: a CI job that checks nothing must not look green.
  const { budgets } = config;
  if (budgets.copiedPerChild === undefined && budgets.newPerChild === undefined && budgets.sharedRatio === undefined && !Object.keys(budgets.causes).length && !config.baseline)
    throw bad(
      'budgets',
      'nothing to check: give budgets ("budgets": {"copiedPerChild": "24MiB"}) or a baseline to compare with ("baseline": "cowscope-baseline.json", written by cowscope budget --update-baseline)',
    );
  return config;
}
