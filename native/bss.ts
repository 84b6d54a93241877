// Which anonymous mapping after a file's data is that file's .bss. The loader maps a segment's
// zero-filled tail (memsz past filesz) as anonymous memory right after the file's rw-p pages, and the
// kernel merges later anonymous mappings that happen to follow (glibc's mmapped malloc blocks, a
// thread stack) into the same VMA. The ELF program headers give the .bss's true end: the mapping is
// split there, and each part says whether it is .bss.

import { Segment, loadSegmentsOf } from './elf-symbols';
import type { Vma } from './procfs-parse';

const isAnonymous = (v: Vma) => v.inode === 0 && (v.path === '' || v.path.startsWith('[anon:'));

/** The end (page-aligned) of the zero-filled tail of the segment that the file mapping `data` shows, or
 *  null when the file's headers cannot be read. */
function bssEndAfter(data: Vma, segments: Segment[], pageSize: number): number | null {
  const seg = segments.find((s) => data.offset >= s.offset - (s.offset % pageSize) && data.offset < s.offset + s.filesz);
  if (!seg) return null;
  // data maps file offset o at data.start + (o - data.offset): the segment's end in memory follows
  const end = data.start - data.offset + seg.offset + seg.memsz;
  return Math.ceil(end / pageSize) * pageSize;
}

/** vmas (address order) with every anonymous rw-p mapping that follows a file's rw-p data marked: bss
 *  true up to the end the file's headers give (split there when the mapping goes on), false past it. */
export function markBss(vmas: Vma[], pageSize: number): Vma[] {
  const out: Vma[] = [];
  const segmentsOf = new Map<string, Segment[] | null>();
  for (let i = 0; i < vmas.length; i++) {
    const v = vmas[i];
    const prev = vmas[i - 1];
    if (!(isAnonymous(v) && v.perms === 'rw-p' && prev && prev.inode !== 0 && prev.perms === 'rw-p' && prev.end === v.start)) {
      out.push(v);
      continue;
    }
    const key = `${prev.dev}:${prev.inode}`;
    if (!segmentsOf.has(key)) segmentsOf.set(key, loadSegmentsOf(prev));
    const segments = segmentsOf.get(key);
    const end = segments ? bssEndAfter(prev, segments, pageSize) : null;
    if (end === null) out.push(v); // unknown: the region rules guess
    else if (end <= v.start) out.push({ ...v, bss: false });
    else if (end >= v.end) out.push({ ...v, bss: true });
    else out.push({ ...v, end, bss: true }, { ...v, start: end, offset: 0, bss: false });
  }
  return out;
}
