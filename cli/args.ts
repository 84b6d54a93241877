// Argument checks shared by commands. Each failure says what to type instead.

import path from 'node:path';
import { UsageError } from './errors';
import type { parseSize as ParseSize } from './budget-config';

// Loaded only when a size is given: budget-config brings the cause catalog, which `inspect` does not need.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const parseSize: typeof ParseSize = (value) => (require('./budget-config') as typeof import('./budget-config')).parseSize(value);

export function parsePid(text: string): number {
  if (!/^\d+$/.test(String(text)) || Number(text) <= 0 || Number(text) > 2 ** 22) {
    throw new UsageError(`"${text}" is not a process id: give a number, e.g. cowscope inspect $(pgrep -o unicorn)`);
  }
  return Number(text);
}

/** Options whose value is the next word: Ruby's `-I lib`, `-r json`, `-C dir`, `-E enc`, `-F pattern`,
 *  `-X dir`; `-X opt` is Python's too. */
const TAKES_VALUE = new Set(['-I', '-r', '-C', '-E', '-F', '-X']);

/** Index of the script in a Ruby command line after the interpreter (-1 with -e, or when there is none). */
export function scriptIndex(words: string[], from = 0): number {
  if (words.includes('-e')) return -1;
  for (let i = from; i < words.length; i++) {
    if (TAKES_VALUE.has(words[i])) i++;
    else if (words[i] === '--') return i + 1 < words.length ? i + 1 : -1;
    else if (!words[i].startsWith('-')) return i;
  }
  return -1;
}

/** A size limit from its flag, else its environment variable, else the default ("2GiB", "512MiB", bytes). */
export function sizeLimit(flag: string, value: unknown, env: string, fallback: number, example: string): number {
  const [text, from] = value !== undefined ? [value, flag] : [process.env[env], env];
  if (text === undefined || text === '') return fallback;
  const n = parseSize(String(text));
  if (n === undefined || n < 1) throw new UsageError(`${from} ${JSON.stringify(text)} is not a size: write e.g. ${example}`);
  return n;
}

/** A WSGI app as gunicorn names it: a dotted module, then optionally : and a dotted attribute. */
export const WSGI_SPEC = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)?$/;

/** An interpreter named python, python3, python3.12 (with or without a path). */
export const PYTHON_NAME = /(^|\/)python[\d.]*$/;

/** Why a WSGI spec is not one, or undefined: `show(spec)` writes a spec as the user gives it (a flag,
 *  a config field), for the message's example. */
export function wsgiSpecProblem(spec: string, show: (spec: string) => string): string | undefined {
  const file = /^(.*)\.py(:.*)?$/.exec(spec);
  if (file) return `${show(spec)} names a file: give the module, as gunicorn takes it (${show(`${file[1].replace(/\//g, '.')}${file[2] ?? ':application'}`)})`;
  if (!WSGI_SPEC.test(spec)) return `${show(spec)} is not module:app: write e.g. ${show('mysite.wsgi:application')}`;
  return undefined;
}

/** The bundled example `cowscope run --example` runs: shipped in the package (examples/), beside dist/. */
export const EXAMPLE_PROGRAM = path.resolve(__dirname, '..', '..', 'examples', 'app.rb');

/** What a program argument that cowscope cannot run as a Ruby script should have been. */
export function checkScript(file: string, command: 'run' | 'compare' = 'run'): void {
  if (/\.ru$/.test(file)) throw new UsageError(`${file} is a Rack app: ${command === 'compare' ? 'compare strategies on' : 'run'} it with cowscope ${command} --rack ${file}`);
}

/** The longest timeout (--timeout, a budget config's "timeout"): a day (Node's timers hold at most
 *  2^31-1 ms, ~24.8 days; past that a timer fires at once, and every wait became a 1 ms loop). */
export const MAX_TIMEOUT_SECONDS = 86_400;
/** The timeout when none is given. */
export const DEFAULT_TIMEOUT_SECONDS = 60;
