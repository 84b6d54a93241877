// Function names for instruction addresses, from the ELF file a mapping comes from: the static symbol
// table (.symtab) when the file has one, else the dynamic one (.dynsym: exported functions only, so a
// name found there is approximate: an address in a static function that lies past an exported
// function's recorded size is left unnamed, one inside it is that function).
//
// A file whose own tables are stripped may have a separate debug file, found by its build id at
// /usr/lib/debug/.build-id/xx/yyyy.debug (Debian's *-dbg and *-dbgsym packages): its .symtab is used
// then, and the names are exact.
//
// A small ELF64 little-endian reader (the layouts of elf(5)): the program headers map a file offset to
// a virtual address, the section headers find the symbol tables. Only the parts needed are read.

import fs from 'node:fs';
import type { Vma } from './procfs-parse';

export interface Symbol {
  /** the function, or '' when no symbol covers the address */
  name: string;
  /** the file the instruction lies in ('[anon]' for anonymous code, e.g. a JIT) */
  file: string;
  /** named from .dynsym only (the file has no .symtab) */
  approximate: boolean;
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;
const DEBUG_DIR = '/usr/lib/debug/.build-id';
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

export interface Segment {
  offset: number;
  vaddr: number;
  filesz: number;
  /** bytes in memory: past filesz the loader maps zeroes (.bss) */
  memsz: number;
}

/** The functions of one ELF file, sorted by address. */
interface SymbolTable {
  segments: Segment[];
  start: Float64Array;
  size: Float64Array;
  names: string[];
  /** from .dynsym (no .symtab in the file) */
  dynamicOnly: boolean;
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, b, done, length - done, offset + done);
    if (n === 0) throw new Error('short read');
    done += n;
  }
  return b;
}

const u64 = (b: Buffer, at: number) => Number(b.readBigUInt64LE(at));

/** "major:minor" in hex, as /proc/PID/maps prints a device, from a stat's dev number (Linux's
 *  new_encode_dev: minor's low 8 bits, major's 12, then minor's high bits). */
export function deviceOf(dev: number): string {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/** Reads an ELF64 LE file's function symbols; null when it is not one (or cannot be read). With expect,
 *  only the very file a mapping shows (same device and inode): a path that now names something else (a
 *  file renamed over it, a FIFO a user planted) is not read. */
function loadTable(file: string, debug = true, expect?: { dev: string; inode: number }, segmentsOnly = false): SymbolTable | null {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    if (expect && (st.ino !== expect.inode || deviceOf(st.dev) !== expect.dev)) return null;
    const eh = readAt(fd, 0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return null; // ELF, 64-bit, little-endian
    const phoff = u64(eh, 0x20);
    const shoff = u64(eh, 0x28);
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    const segments: Segment[] = [];
    let buildId = '';
    const ph = readAt(fd, phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      const type = ph.readUInt32LE(at);
      if (type === PT_LOAD) segments.push({ offset: u64(ph, at + 8), vaddr: u64(ph, at + 16), filesz: u64(ph, at + 32), memsz: u64(ph, at + 40) });
      if (type === PT_NOTE && !buildId) buildId = findBuildId(readAt(fd, u64(ph, at + 8), Math.min(u64(ph, at + 32), 4096)));
    }
    if (segmentsOnly) return { segments, start: new Float64Array(0), size: new Float64Array(0), names: [], dynamicOnly: true };
    if (debug && buildId) {
      const separate = loadTable(`${DEBUG_DIR}/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`, false);
      if (separate && separate.start.length && !separate.dynamicOnly) return { ...separate, segments };
    }
    if (!shoff || !shnum) return { segments, start: new Float64Array(0), size: new Float64Array(0), names: [], dynamicOnly: true };
    const sh = readAt(fd, shoff, shentsize * shnum);
    const section = (i: number) => {
      const at = i * shentsize;
      return { type: sh.readUInt32LE(at + 4), offset: u64(sh, at + 24), size: u64(sh, at + 32), link: sh.readUInt32LE(at + 40), entsize: u64(sh, at + 56) };
    };
    const all = Array.from({ length: shnum }, (_, i) => section(i));
    const symtab = all.find((s) => s.type === SHT_SYMTAB) ?? all.find((s) => s.type === SHT_DYNSYM);
    if (!symtab || !symtab.entsize) return { segments, start: new Float64Array(0), size: new Float64Array(0), names: [], dynamicOnly: true };
    const strtab = all[symtab.link];
    const syms = readAt(fd, symtab.offset, symtab.size);
    const strs = readAt(fd, strtab.offset, strtab.size);
    const found: { start: number; size: number; name: string }[] = [];
    for (let at = 0; at + 24 <= syms.length; at += symtab.entsize) {
      const type = syms[at + 4] & 0xf;
      const value = u64(syms, at + 8);
      if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || value === 0) continue;
      const nameAt = syms.readUInt32LE(at);
      const end = strs.indexOf(0, nameAt);
      found.push({ start: value, size: u64(syms, at + 16), name: strs.toString('utf8', nameAt, end < 0 ? strs.length : end) });
    }
    found.sort((a, b) => a.start - b.start || b.size - a.size);
    return {
      segments,
      start: Float64Array.from(found, (f) => f.start),
      size: Float64Array.from(found, (f) => f.size),
      names: found.map((f) => f.name),
      dynamicOnly: symtab.type === SHT_DYNSYM,
    };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The GNU build id (hex) in a block of ELF notes, or ''. Notes: namesz, descsz, type, name and desc
 *  each padded to 4 bytes. */
function findBuildId(notes: Buffer): string {
  for (let at = 0; at + 12 <= notes.length; ) {
    const namesz = notes.readUInt32LE(at);
    const descsz = notes.readUInt32LE(at + 4);
    const type = notes.readUInt32LE(at + 8);
    const name = at + 12;
    const desc = name + ((namesz + 3) & ~3);
    if (desc + descsz > notes.length) return '';
    if (type === NT_GNU_BUILD_ID && notes.toString('latin1', name, name + namesz) === 'GNU\0') return notes.toString('hex', desc, desc + descsz);
    at = desc + ((descsz + 3) & ~3);
  }
  return '';
}

/** The function covering a virtual address of the file, or '' (binary search, then the covering size). */
function lookup(t: SymbolTable, vaddr: number): string {
  let lo = 0;
  let hi = t.start.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (t.start[mid] <= vaddr) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Symbols at the same address (aliases) sit together: any of them covering vaddr names it.
  for (let i = best; i >= 0 && i > best - 8; i--) if (vaddr < t.start[i] + Math.max(t.size[i], 1)) return t.names[i];
  return '';
}

/** Where lazy binding happens in an ELF file: its .got.plt (the GOT entries the dynamic linker fills on
 *  a function's first call) and its PLT stubs (.plt, .plt.sec), as virtual addresses of the file. */
export interface PltSections {
  segments: Segment[];
  gotPlt: { vaddr: number; size: number } | null;
  plt: { vaddr: number; size: number }[];
}

/** The PLT sections of the ELF file a mapping shows (same device and inode; null: not an ELF file, no
 *  section headers, or no longer the mapped file). Section names come from .shstrtab, which strip keeps. */
export function pltSectionsOf(vma: Vma): PltSections | null {
  if (!vma.path.startsWith('/')) return null;
  let fd: number;
  try {
    fd = fs.openSync(vma.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.ino !== vma.inode || deviceOf(st.dev) !== vma.dev) return null;
    const eh = readAt(fd, 0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return null;
    const [phoff, shoff] = [u64(eh, 0x20), u64(eh, 0x28)];
    const [phentsize, phnum, shentsize, shnum, shstrndx] = [eh.readUInt16LE(0x36), eh.readUInt16LE(0x38), eh.readUInt16LE(0x3a), eh.readUInt16LE(0x3c), eh.readUInt16LE(0x3e)];
    if (!shoff || !shnum || shstrndx >= shnum) return null;
    const segments: Segment[] = [];
    const ph = readAt(fd, phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (ph.readUInt32LE(at) === PT_LOAD) segments.push({ offset: u64(ph, at + 8), vaddr: u64(ph, at + 16), filesz: u64(ph, at + 32), memsz: u64(ph, at + 40) });
    }
    const sh = readAt(fd, shoff, shentsize * shnum);
    const names = readAt(fd, u64(sh, shstrndx * shentsize + 24), Math.min(u64(sh, shstrndx * shentsize + 32), 1 << 20));
    const out: PltSections = { segments, gotPlt: null, plt: [] };
    for (let i = 0; i < shnum; i++) {
      const at = i * shentsize;
      const nameAt = sh.readUInt32LE(at);
      const end = names.indexOf(0, nameAt);
      const name = names.toString('latin1', nameAt, end < 0 ? names.length : end);
      const range = { vaddr: u64(sh, at + 16), size: u64(sh, at + 32) };
      if (name === '.got.plt') out.gotPlt = range;
      else if (name === '.plt' || name === '.plt.sec') out.plt.push(range);
    }
    return out;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The PT_LOAD segments of the ELF file a mapping shows (null: not an ELF file, or no longer the mapped one). */
export function loadSegmentsOf(vma: Vma): Segment[] | null {
  return vma.path.startsWith('/') ? (loadTable(vma.path, false, { dev: vma.dev, inode: vma.inode }, true)?.segments ?? null) : null;
}

/** The symbol tables read so far, by file (path, device and inode): Symbolizers of processes of one
 *  family share it, so each file is read once for all of them. */
export type SymbolTables = Map<string, SymbolTable | null>;

/** Names instruction addresses of one process by its mappings; each ELF file is read once. */
export class Symbolizer {
  constructor(
    private readonly vmas: Vma[],
    private readonly tables: SymbolTables = new Map(),
  ) {}

  symbolize(ip: number): Symbol {
    const vma = this.vmaOf(ip);
    if (!vma) return { name: '', file: '[unmapped]', approximate: false };
    if (!vma.path.startsWith('/')) return { name: '', file: vma.path || '[anon]', approximate: false };
    const key = `${vma.path}\0${vma.dev}\0${vma.inode}`;
    let t = this.tables.get(key);
    if (t === undefined) {
      t = loadTable(vma.path, true, { dev: vma.dev, inode: vma.inode });
      this.tables.set(key, t);
    }
    if (!t) return { name: '', file: vma.path, approximate: false };
    const fileOffset = ip - vma.start + vma.offset;
    const seg = t.segments.find((s) => fileOffset >= s.offset && fileOffset < s.offset + s.filesz);
    if (!seg) return { name: '', file: vma.path, approximate: t.dynamicOnly };
    return { name: lookup(t, seg.vaddr + (fileOffset - seg.offset)), file: vma.path, approximate: t.dynamicOnly };
  }

  private vmaOf(addr: number): Vma | undefined {
    let lo = 0;
    let hi = this.vmas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.vmas[mid];
      if (addr < v.start) hi = mid - 1;
      else if (addr >= v.end) lo = mid + 1;
      else return v;
    }
    return undefined;
  }
}
