// Writing a file the user named: to a temporary name beside it, then renamed into place, so a crash or a
// full disk never leaves half a file under the real name.

import fs from 'node:fs';
import path from 'node:path';

/** The temporary name beside file that its write goes to first (with the pid: two cowscopes writing the
 *  same file do not share one). */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
}

/** Creates the temporary file tmp with data. Exclusively (O_CREAT|O_EXCL): a name already there, a
 *  symlink among them, is refused, never followed (as root, in a folder others can write, it may have been
 *  planted), and left alone; so is a path through a folder link another user planted (plantedLinkOn). A write that fails once the file is made (a full disk) removes it. */
export function writeTemporary(tmp: string, data: string | Buffer): void {
  const link = plantedLinkOn(tmp);
  if (link) throw new PlantedLinkError(link);
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx' });
  } catch (e) {
    // The name is this process's (the pid): one there was left by a run with the same pid (a container's
    // pid 1, killed), or planted. Say which file is in the way.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileInTheWayError(tmp);
    removeQuietly(tmp);
    throw e;
  }
}

/** The temporary name of an output file is taken: the one line to show (cli/errors.ts). */
export class FileInTheWayError extends Error {
  readonly code = 'EEXIST';
  constructor(readonly path: string) {
    super(`${path} is in the way (left by a cowscope that was killed?): remove it, and run again`);
    this.name = 'FileInTheWayError';
  }
}

/** Removes a file of ours after a failure, whose own error is the one to report. */
export function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // a folder by that name, or no permission: the failure reported says enough
  }
}

/** The first symbolic link among the folders of file's path that another user could have planted: one
 *  owned by neither this process's user nor root, wherever it lies (in a /tmp-like folder, or in a folder
 *  of that user's own: QA, root's --save through nobody's link in nobody's 0755 folder wrote into a
 *  folder only root could write). Its path, or undefined. The temporary file is made exclusively and
 *  renamed over the last name, neither of which follows a link there; a folder of the path is followed,
 *  and a link planted as one would send a root cowscope's output over a file of the link's choosing (the
 *  kernel's protected_symlinks, when on, refuses only the sticky folders' links, and may be off). */
export function plantedLinkOn(file: string): string | undefined {
  const uid = process.geteuid?.() ?? -1;
  // the folders still to walk, a link's own path walked in its place (a trusted link may lead through one
  // that is not); `at` is a real folder throughout
  const todo = path.dirname(path.resolve(file)).split(path.sep).filter(Boolean);
  let at: string = path.sep;
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      at = path.dirname(at);
      continue;
    }
    const next = path.join(at, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch {
      return undefined; // a missing folder: the write fails on its own
    }
    if (!st.isSymbolicLink()) {
      at = next;
      continue;
    }
    if (st.uid !== uid && st.uid !== 0) return next;
    if (++links > 40) return undefined; // a loop: the write fails on its own (ELOOP)
    const target = fs.readlinkSync(next);
    todo.unshift(...target.split(path.sep).filter(Boolean));
    if (path.isAbsolute(target)) at = path.sep;
  }
  return undefined;
}

/** A folder of an output file's path is a link another user could have planted (plantedLinkOn). */
export class PlantedLinkError extends Error {
  constructor(readonly link: string) {
    super(`${link} is a symbolic link of another user: cowscope does not follow it (it may have been planted): name the folder it leads to, if you trust it`);
    this.name = 'PlantedLinkError';
  }
}

/** A file written under its temporary name (tempNameFor), not yet renamed into place. commit renames it
 *  (removing it if that fails); abort removes it; one of them must follow, and if neither has by the
 *  time the process exits (a signal), the temporary file is removed then. */
export interface StagedFile {
  commit(): void;
  abort(): void;
}

export function stageFile(file: string, data: string | Buffer): StagedFile {
  const tmp = tempNameFor(file);
  writeTemporary(tmp, data);
  const remove = () => removeQuietly(tmp);
  process.on('exit', remove);
  return {
    commit: () => {
      process.off('exit', remove);
      try {
        fs.renameSync(tmp, file);
      } catch (e) {
        remove();
        throw e;
      }
    },
    abort: () => {
      process.off('exit', remove);
      remove();
    },
  };
}

/** Writes data to file atomically; on failure removes the temporary file it made and rethrows. */
export function writeFileAtomically(file: string, data: string | Buffer): void {
  stageFile(file, data).commit();
}
