// A library function bound on its first call. Without BIND_NOW (no `-z now` at link time, no
// LD_BIND_NOW), a call through the PLT goes to the dynamic linker the first time, which writes the
// function's address into the caller's GOT entry (.got.plt): a word that held the address of the
// library's own PLT stub and now holds code elsewhere. Every worker that makes the call first copies that
// page; a call made in the parent before the fork (prewarm) or binding at load (LD_BIND_NOW=1) leaves it
// shared. Runtime-independent: both runtimes ask it of words no rule of theirs explains.
//
// The sections come from the mapped file itself (read when first asked, and only while it is still the
// file the mapping shows: same device and inode), so that other function pointers a library keeps in
// its data (hooks, allocator tables a program swaps) are not taken for bindings. Where the file cannot
// be read (a saved capture reported on another machine) no word is told to be one.

import type { Vma } from '../native/procfs-parse';
import { PltSections, Segment, pltSectionsOf } from '../native/elf-symbols';
import { RangeCursor, findRange } from './words';

/** The mappings of the fork-time image, by address, and the PLT sections of their files (read on demand). */
export interface MappedFiles {
  vmas: Vma[];
  starts: Float64Array;
  ends: Float64Array;
  /** the mapping holding an address (index in vmas, -1 none): the words asked come in address order */
  at: RangeCursor;
  sections: Map<string, PltSections | null>;
}

export function mappedFiles(vmas: Vma[]): MappedFiles {
  const starts = Float64Array.from(vmas, (v) => v.start);
  const ends = Float64Array.from(vmas, (v) => v.end);
  return { vmas, starts, ends, at: new RangeCursor(starts, ends), sections: new Map() };
}

function sectionsOf(m: MappedFiles, v: Vma): PltSections | null {
  const key = `${v.path}\0${v.dev}\0${v.inode}`;
  let s = m.sections.get(key);
  if (s === undefined) m.sections.set(key, (s = pltSectionsOf(v)));
  return s;
}

/** The file's virtual address of a runtime address in mapping v (through the load segment holding its
 *  file offset), or -1. */
function fileVaddr(segments: Segment[], v: Vma, addr: number): number {
  const offset = addr - v.start + v.offset;
  const seg = segments.find((s) => offset >= s.offset && offset < s.offset + s.filesz);
  return seg ? seg.vaddr + (offset - seg.offset) : -1;
}

const within = (r: { vaddr: number; size: number }, a: number) => a >= r.vaddr && a < r.vaddr + r.size;

/** Is the word at addr (old value O, new N, as addresses) a GOT entry the dynamic linker bound: in the
 *  .got.plt of a mapped file, once the address of a PLT stub of that same file, now code? */
export function isLazyBinding(m: MappedFiles, addr: number, O: number, N: number): boolean {
  // the word's own mapping first: most words asked lie in anonymous memory, and need no more lookups
  const at = m.at.at(addr);
  if (at < 0 || O === N) return false;
  const v = m.vmas[at];
  if (!v.inode || v.perms[2] === 'x') return false;
  const was = findRange(m.starts, m.ends, O);
  const now = findRange(m.starts, m.ends, N);
  if (was < 0 || now < 0) return false;
  const [vo, vn] = [m.vmas[was], m.vmas[now]];
  if (vo.perms[2] !== 'x' || vn.perms[2] !== 'x' || vo.inode !== v.inode || vo.dev !== v.dev) return false;
  const s = sectionsOf(m, v);
  if (!s?.gotPlt) return false;
  if (!within(s.gotPlt, fileVaddr(s.segments, v, addr))) return false;
  const stub = fileVaddr(s.segments, vo, O);
  return s.plt.some((r) => within(r, stub));
}
