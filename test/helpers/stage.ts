// A world-readable copy of the built package, so tests can run cowscope as an unprivileged user
// (setpriv --reuid=65534) even when the checkout lives under a private directory (mktemp -d is 0700).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, fixtureBinary } from './family';

export interface Stage {
  dir: string;
  cli: string;
  fixture: string;
  remove(): void;
}

const DEV_ONLY = new Set(['typescript', '@types', 'uvu', 'diff', 'dequal', 'kleur', 'sade', 'mri']);

export function stagePackage(): Stage {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cowscope-stage-'));
  const copy = (rel: string, filter?: (src: string) => boolean) =>
    fs.cpSync(path.join(ROOT, rel), path.join(dir, rel), { recursive: true, filter });
  copy('package.json');
  copy('dist', (src) => !src.includes(`${path.sep}dist${path.sep}test`));
  copy(path.join('build', 'Release', 'cowscope_probe.node'));
  copy('node_modules', (src) => !DEV_ONLY.has(path.relative(path.join(ROOT, 'node_modules'), src).split(path.sep)[0]));
  const fixture = path.join(dir, 'cow_family');
  fs.copyFileSync(fixtureBinary(), fixture);
  const openUp = (p: string) => {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.isDirectory() || st.mode & 0o100 ? 0o755 : 0o644);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) openUp(path.join(p, e));
  };
  openUp(dir);
  return {
    dir,
    cli: path.join(dir, 'dist', 'cli', 'main.js'),
    fixture,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs a program as uid/gid 65534 (nobody) with no supplementary groups and no capabilities. */
export const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
