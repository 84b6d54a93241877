// Helpers for tests of `cowscope run` with CPython.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './family';
import { processesMentioning } from './ruby';

export const PYTHON_FIXTURES = path.join(ROOT, 'fixtures', 'python');

/** The interpreters the Python tests run on: Debian's /usr/bin/python3 and pyenv's 3.11, 3.12 and 3.13
 *  builds where present (COWSCOPE_TEST_PYTHONS, colon-separated paths, overrides). Absent ones are
 *  named in a printed note, so a reader of the log sees which versions did not run. */
export function testPythons(): { python: string; version: string }[] {
  const pyenv = path.join(os.homedir(), '.pyenv', 'versions');
  const paths = process.env.COWSCOPE_TEST_PYTHONS
    ? process.env.COWSCOPE_TEST_PYTHONS.split(':').filter(Boolean)
    : ['/usr/bin/python3', ...['3.11.7', '3.12.1', '3.13.0'].map((v) => path.join(pyenv, v, 'bin', 'python3'))];
  const out: { python: string; version: string }[] = [];
  for (const python of paths) {
    const r = fs.existsSync(python) ? spawnSync(python, ['-c', 'import platform; print(platform.python_version(), end="")'], { encoding: 'utf8', timeout: 20_000 }) : undefined;
    if (r?.status === 0 && r.stdout) out.push({ python, version: r.stdout });
    else console.log(`note: no Python at ${python}: its tests are skipped`);
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
