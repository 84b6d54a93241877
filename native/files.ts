// Writing a file the user named: to a temporary name beside it, then renamed into place, so a crash or a
// full disk never leaves half a file under the real name.

import fs from 'node:fs';
import path from 'node:path';

/** The temporary name beside file that its write goes to first (with the pid: two cowscopes writing the
 *  same file do not share one). */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
}

/** Writes data to file atomically; on failure removes the temporary file and rethrows. */
export function writeFileAtomically(file: string, data: string | Buffer): void {
  const tmp = tempNameFor(file);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
