// Helpers for tests of `cowscope run` with CPython.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './family';
import { processesMentioning } from './ruby';

export const PYTHON_FIXTURES = path.join(ROOT, 'fixtures', 'python');

/** Where extra interpreters live: pyenv's versions, and /opt/pythons/python-X.Y.Z (what
 *  scripts/install-pythons.sh builds where pyenv has no 3.13). */
const PYTHON_HOMES = [path.join(os.homedir(), '.pyenv', 'versions'), '/opt/pythons'];
/** The minor versions the tests want beside Debian's. */
const TEST_MINORS = ['3.11', '3.12', '3.13'];

/** The newest X.Y.Z of a minor version in a folder of interpreters (pyenv's "3.13.0", /opt/pythons'
 *  "python-3.13.5"), as the path of its python3; undefined when there is none. */
function newestIn(home: string, minor: string): string | undefined {
  const names = fs.existsSync(home) ? fs.readdirSync(home) : [];
  const exe = minor.startsWith('2.') ? 'python' : 'python3';
  const versions = names
    .map((n) => ({ n, v: new RegExp(`^(?:python-)?(${minor.replace('.', '\\.')}\\.(\\d+))$`).exec(n) }))
    .filter((x) => x.v && fs.existsSync(path.join(home, x.n, 'bin', exe)))
    .sort((a, b) => Number(b.v![2]) - Number(a.v![2]));
  return versions.length ? path.join(home, versions[0].n, 'bin', exe) : undefined;
}

/** The interpreters the Python tests run on: Debian's /usr/bin/python3, and a 3.11, 3.12 and 3.13 from
 *  pyenv, else from /opt/pythons (COWSCOPE_TEST_PYTHONS, colon-separated paths, overrides). Absent ones
 *  are named in a printed note, so a reader of the log sees which versions did not run. */
export function testPythons(): { python: string; version: string }[] {
  const paths = process.env.COWSCOPE_TEST_PYTHONS
    ? process.env.COWSCOPE_TEST_PYTHONS.split(':').filter(Boolean)
    : ['/usr/bin/python3', ...TEST_MINORS.map((m) => PYTHON_HOMES.map((h) => newestIn(h, m)).find(Boolean) ?? `(a Python ${m} in ${PYTHON_HOMES.join(' or ')})`)];
  const out: { python: string; version: string }[] = [];
  for (const python of paths) {
    const r = fs.existsSync(python) ? spawnSync(python, ['-c', 'import platform; print(platform.python_version(), end="")'], { encoding: 'utf8', timeout: 20_000 }) : undefined;
    if (r?.status === 0 && r.stdout) out.push({ python, version: r.stdout });
    else console.log(`note: no Python at ${python}: its tests are skipped`);
  }
  return out;
}

/** The newest CPython of these minor versions (tried in order) from pyenv or /opt/pythons, undefined when
 *  there is none (this machine image carries pyenv's 2.7 and 3.6 to 3.13). Defaults: older than the
 *  version table, but one the agent runs on. */
export function olderPython(minors = ['3.10', '3.9', '3.8']): string | undefined {
  for (const minor of minors) {
    const found = PYTHON_HOMES.map((h) => newestIn(h, minor)).find(Boolean);
    if (found) return found;
  }
  return undefined;
}

/** Every CPython the agent runs on (3.8 to 3.13, the newest of each minor from pyenv or /opt/pythons, and
 *  Debian's /usr/bin/python3); absent ones are named in a printed note. */
export function everyPython(): string[] {
  const out = fs.existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : [];
  for (const minor of ['3.8', '3.9', '3.10', '3.11', '3.12', '3.13']) {
    const found = PYTHON_HOMES.map((h) => newestIn(h, minor)).find(Boolean);
    if (found) out.push(found);
    else console.log(`note: no Python ${minor} in ${PYTHON_HOMES.join(' or ')}: its tests are skipped`);
  }
  return out;
}

/** Processes whose command line mentions this checkout's Python fixtures or agent. */
export function pythonFixtureProcesses(): string[] {
  return processesMentioning([`${ROOT}/fixtures/python/`, `${ROOT}/runtimes/python/agent`]);
}

/** Pages of a blame list whose cause matches. */
export function pagesOf(blame: { cause: string; pages: number }[], re: RegExp): number {
  return blame.filter((b) => re.test(b.cause)).reduce((n, b) => n + b.pages, 0);
}

/** Every row of a blame list, for an assertion's message: a cause with words on no page of its own (its
 *  pages went to another cause) is the one a failed "0 pages" check names. */
export function blameSummary(blame: { cause: string; pages: number; words: number }[]): string {
  return blame.map((b) => `${b.cause} ${b.pages}p/${b.words}w`).join(', ');
}
