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
 *  planted), and left alone. A write that fails once the file is made (a full disk) removes it. */
export function writeTemporary(tmp: string, data: string | Buffer): void {
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes data to file atomically; on failure removes the temporary file it made and rethrows. */
export function writeFileAtomically(file: string, data: string | Buffer): void {
  const tmp = tempNameFor(file);
  writeTemporary(tmp, data);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
