// Whether a file the user named can be written, asked before anything runs: a run of a minute must not
// end in "cannot write" with its report lost. cli/main.ts asks it for the files of OUTPUT_FILES
// (cli/commands/specs.ts); `cowscope budget` for the baseline and $GITHUB_STEP_SUMMARY. Each caller names its own fix.

import fs from 'node:fs';
import path from 'node:path';
import { plantedLinkOn, tempNameFor } from '../native/files';

export interface Unwritable {
  /** what is wrong, so that the caller can name the fix for its option or setting */
  problem: 'no folder' | 'a folder' | 'not a file' | 'not writable' | 'planted link';
  /** e.g. "folder /x does not exist" */
  text: string;
}

function kind(p: string): 'folder' | 'file' | 'special' | undefined {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() ? 'folder' : st.isFile() ? 'file' : 'special';
  } catch {
    return undefined;
  }
}

/** Why file cannot be written, or undefined. A file that is replaced is written to a temporary name
 *  beside it and renamed into place (native/files.ts), so its folder must be writable, whatever the
 *  file's own mode; a file that is appended to is opened as it is, so an existing one must be writable. */
export function whyNotWritable(file: string, how: 'replace' | 'append' = 'replace'): Unwritable | undefined {
  const full = path.resolve(file);
  const dir = path.dirname(full);
  if (kind(dir) !== 'folder') return { problem: 'no folder', text: `folder ${dir} does not exist` };
  // (path.resolve drops a trailing slash: "out.cow/" names a folder, which the rename would refuse at the end)
  if (/[\\/]$/.test(file) && kind(full) !== 'folder') return { problem: 'a folder', text: 'it ends in a slash (a folder)' };
  const link = plantedLinkOn(full);
  if (link) return { problem: 'planted link', text: `${link} is a symbolic link of another user, which cowscope does not follow (it may have been planted)` };
  const existing = kind(full);
  if (existing === 'folder') return { problem: 'a folder', text: 'it is a folder' };
  // A replaced file is renamed over: a device (/dev/null, as root) or a pipe would be replaced by a file.
  // One appended to is written as it is (a $GITHUB_STEP_SUMMARY of /dev/stdout).
  if (existing === 'special' && how === 'replace') return { problem: 'not a file', text: 'it is not a regular file (a device, a pipe or a socket)' };
  const [target, what] = how === 'append' && existing ? [full, 'it is'] : [dir, `folder ${dir} is`];
  try {
    fs.accessSync(target, fs.constants.W_OK);
  } catch (e) {
    return { problem: 'not writable', text: `${what} not writable (${(e as NodeJS.ErrnoException).code})` };
  }
  // access() answers for the mode bits, and root passes it where a file system refuses anyway (sysfs,
  // a read-only mount): a replaced file's temporary name is made and removed again, as its write will
  if (how === 'replace') {
    const tmp = tempNameFor(full);
    try {
      fs.closeSync(fs.openSync(tmp, 'wx'));
      fs.rmSync(tmp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') return { problem: 'not writable', text: `folder ${dir} is not writable (${code})` };
    }
  }
  return undefined;
}

/** Do two paths name the same file: the same inode where both exist, else the same resolved path (a
 *  file not written yet, or a link to it, named twice)? */
export function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}
