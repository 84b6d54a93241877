// cowscope run's temporary folders: $TMPDIR/cowscope-run-XXXXXX, one per run, holding the heap map
// (megabytes) and owner.pid ("PID STARTTIME": the run's cowscope process, identified across pid reuse
// by its start time, /proc/PID/stat field 22). A run removes its folder itself, on every way out it can
// catch; the folders of runs that could not (SIGKILL, a crash) are swept at the next run's start.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { statOf } from '../native/proc';
import { UsageError } from './errors';

export const RUN_DIR_PREFIX = 'cowscope-run-';
export const OWNER_FILE = 'owner.pid';
/** A folder without a readable owner file (left by an older cowscope) is swept once it is this old. */
export const OWNERLESS_AGE_MS = 24 * 3600 * 1000;

/** A new private run folder, with this process written down as its owner. */
export function createRunDir(tmp = os.tmpdir()): string {
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(tmp, RUN_DIR_PREFIX));
  } catch (e) {
    // a TMPDIR that is missing, not a folder, or not writable: the user's setting to fix, not cowscope's
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError(`cannot make a temporary folder in ${tmp} (${code}): set TMPDIR to a folder you can write to`);
  }
  const me = statOf(process.pid);
  fs.writeFileSync(path.join(dir, OWNER_FILE), `${process.pid} ${me?.startTime ?? 0}\n`, { flag: 'wx', mode: 0o600 });
  return dir;
}

/** The owner written in a run folder, or undefined when there is no sound owner file (never followed
 *  through a symlink, never more than a few bytes read). */
function ownerOf(dir: string): { pid: number; startTime: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, OWNER_FILE), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > 64) return undefined;
    const buf = Buffer.alloc(64);
    const n = fs.readSync(fd, buf, 0, 64, 0);
    const m = /^(\d{1,10}) (\d{1,20})\n?$/.exec(buf.subarray(0, n).toString('latin1'));
    return m ? { pid: Number(m[1]), startTime: Number(m[2]) } : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function ownerAlive(owner: { pid: number; startTime: number }): boolean {
  const s = statOf(owner.pid);
  return !!s && s.startTime === owner.startTime && s.state !== 'Z' && s.state !== 'X';
}

/** Removes the run folders of dead cowscope runs in tmp; returns the names removed. Only real
 *  directories (lstat: a symlink is never followed) owned by this user, named cowscope-run-*, whose
 *  owner process is gone (or was replaced by another process under the same pid); a folder without an
 *  owner file only when older than OWNERLESS_AGE_MS. Never throws. */
export function sweepRunDirs(tmp = os.tmpdir(), now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return removed;
  }
  const uid = process.getuid?.() ?? -1;
  for (const name of names) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(tmp, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || st.uid !== uid) continue;
      const owner = ownerOf(dir);
      if (owner ? ownerAlive(owner) : now - st.mtimeMs < OWNERLESS_AGE_MS) continue;
      // rm never follows symlinks inside the folder: it unlinks them.
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
  return removed;
}
