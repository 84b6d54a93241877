// Reading an input file whose name the user gave, boundedly: only a regular file (checked with fstat
// after open, so /dev/zero, a FIFO or a directory is refused at once and nothing blocks), and only up
// to a size limit checked before anything is allocated.

import fs from 'node:fs';

/** The file is not something to read whole: not a regular file, or larger than the limit. The message
 *  completes "FILE …", e.g. "is a directory". */
export class FileShapeError extends Error {
  constructor(
    message: string,
    readonly code: 'EISDIR' | 'ENOTREG' | 'EFBIG',
    /** the file's size, in bytes */
    readonly size = 0,
  ) {
    super(message);
    this.name = 'FileShapeError';
  }
}

/** "1 MiB", "2 GiB", "14.2 MiB", "512 B". */
export function describeBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The whole content of a regular file of at most maxBytes. Throws the open error (ENOENT, EACCES …)
 *  as Node raises it, or a FileShapeError. */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new FileShapeError(st.isDirectory() ? 'is a directory' : `is ${kindOf(st)}, not a regular file`, st.isDirectory() ? 'EISDIR' : 'ENOTREG');
    if (st.size > maxBytes) throw new FileShapeError(`is ${describeBytes(st.size)}, more than the ${describeBytes(maxBytes)} limit`, 'EFBIG', st.size);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break; // the file shrank meanwhile
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    fs.closeSync(fd);
  }
}
