// A library function bound on its first call. Without BIND_NOW (no `-z now` at link time, no
// LD_BIND_NOW), a call through the PLT goes to the dynamic linker the first time, which writes the
// function's address into the caller's GOT entry: a word of the library's writable data that held the
// address of its own PLT stub and now holds code elsewhere. Every worker that makes the call first copies
// that page; a call made in the parent before the fork (prewarm) or binding at load (LD_BIND_NOW=1) leaves
// it shared. Runtime-independent: both runtimes ask it of words no rule of theirs explains.

import type { Vma } from '../native/procfs-parse';
import { findRange } from './words';

/** The mappings of the fork-time image, by address: which file each maps and whether it is code. */
export interface MappedFiles {
  starts: Float64Array;
  ends: Float64Array;
  /** the mapped file ('' for anonymous memory and [special] mappings) */
  file: string[];
  exec: Uint8Array;
}

export function mappedFiles(vmas: Vma[]): MappedFiles {
  return {
    starts: Float64Array.from(vmas, (v) => v.start),
    ends: Float64Array.from(vmas, (v) => v.end),
    file: vmas.map((v) => (v.inode !== 0 && v.path && !v.path.startsWith('[') ? v.path : '')),
    exec: Uint8Array.from(vmas, (v) => (v.perms[2] === 'x' ? 1 : 0)),
  };
}

/** Is the word at addr (old value O, new N, as addresses) a GOT entry the dynamic linker bound: in a
 *  file's writable mapping, once pointing into that file's code (its PLT stub), now into code? */
export function isLazyBinding(m: MappedFiles, addr: number, O: number, N: number): boolean {
  const at = findRange(m.starts, m.ends, addr);
  if (at < 0 || !m.file[at] || m.exec[at]) return false;
  const was = findRange(m.starts, m.ends, O);
  const now = findRange(m.starts, m.ends, N);
  return was >= 0 && now >= 0 && O !== N && !!m.exec[was] && !!m.exec[now] && m.file[was] === m.file[at];
}
