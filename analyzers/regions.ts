// Which kind of memory a mapping holds, from /proc/PID/maps alone.

import type { Vma } from '../native/procfs-parse';

export type Region = 'ruby-heap' | 'malloc-heap' | 'anon' | 'stack' | 'file-data' | 'file-text';

/** Display order, and what each region means. */
export const REGIONS: { region: Region; meaning: string }[] = [
  { region: 'ruby-heap', meaning: 'the Ruby GC heap: pages of the heap map taken at the fork' },
  { region: 'malloc-heap', meaning: '[heap] and glibc malloc arenas' },
  { region: 'anon', meaning: 'other anonymous memory (mmap)' },
  { region: 'stack', meaning: 'the main thread stack' },
  { region: 'file-data', meaning: 'private file-backed data: .data, .bss, relro' },
  { region: 'file-text', meaning: 'file-backed code and read-only data, vdso' },
];

// glibc allocates non-main arenas as HEAP_MAX_SIZE-aligned reservations (2 * DEFAULT_MMAP_THRESHOLD_MAX
// = 64 MiB on 64-bit): a rw-p part that grows, followed by the ---p rest of the reservation.
const ARENA_SIZE = 64 * 1024 * 1024;

function isAnonymous(v: Vma): boolean {
  return v.inode === 0 && (v.path === '' || v.path.startsWith('[anon:'));
}

function isArena(v: Vma, next: Vma | undefined): boolean {
  if (!isAnonymous(v) || v.perms !== 'rw-p' || v.start % ARENA_SIZE !== 0) return false;
  if (v.end - v.start === ARENA_SIZE) return true;
  return !!next && isAnonymous(next) && next.perms === '---p' && next.start === v.end && next.end === v.start + ARENA_SIZE;
}

/** The region of each mapping (same order as vmas, which must be in address order as maps lists them). */
export function regionsOf(vmas: Vma[]): Region[] {
  return vmas.map((v, i): Region => {
    const prev = vmas[i - 1];
    const next = vmas[i + 1];
    if (v.path === '[heap]') return 'malloc-heap';
    if (v.path.startsWith('[stack')) return 'stack';
    if (isArena(v, next)) return 'malloc-heap';
    if (v.inode === 0) {
      // .bss beyond the file's end is an anonymous mapping right after the file's rw-p data: the capture
      // says how far (native/bss.ts); without that, the whole mapping is taken for it.
      if (v.bss !== undefined) return v.bss ? 'file-data' : 'anon';
      if (isAnonymous(v) && prev && prev.inode !== 0 && prev.perms === 'rw-p' && prev.end === v.start) return 'file-data';
      return isAnonymous(v) ? 'anon' : 'file-text'; // [vdso], [vvar]
    }
    if (v.perms[3] === 's') return 'file-text';
    if (v.perms[1] === 'w') return 'file-data';
    // relro: the read-only mapping just before the same file's rw-p data (the loader wrote it, then mprotected it).
    if (v.perms === 'r--p' && next && next.inode === v.inode && next.dev === v.dev && next.perms === 'rw-p' && next.start === v.end)
      return 'file-data';
    return 'file-text';
  });
}

/** Address ranges that form a region of their own whatever mapping they sit in (the Ruby GC heap's
 *  pages, from the heap map): sorted starts, one size. */
export interface RegionRanges {
  region: Region;
  starts: Float64Array;
  size: number;
}
