// Parsers for the text files of /proc: maps, smaps, smaps_rollup, stat, status.
// Pure functions over strings, so they are tested on recorded text (test/procfs-parse.test.ts).
// Malformed input raises ParseError naming the file and line, never a silent partial result.

export class ParseError extends Error {
  constructor(source: string, line: number, expected: string, got: string) {
    super(`${source} line ${line}: expected ${expected}, got ${JSON.stringify(got.slice(0, 120))}`);
    this.name = 'ParseError';
  }
}

/** One line of /proc/PID/maps. Addresses are exact as numbers below 2^53 (every 4- and 5-level user address on x86-64 below 2^53). */
export interface Vma {
  start: number;
  end: number;
  /** e.g. "rw-p" */
  perms: string;
  offset: number;
  /** "major:minor" in hex, as the kernel prints it */
  dev: string;
  inode: number;
  /** file path, [heap], [stack], [anon:name], or '' for anonymous memory */
  path: string;
  /** anonymous memory right after a file's data: true when it is that file's .bss (its ELF program
   *  headers say so), false when it merely follows it; absent when not known (native/bss.ts) */
  bss?: boolean;
}

export interface SmapsVma extends Vma {
  /** the "Key: N kB" fields, in bytes */
  fields: Record<string, number>;
  /** two-letter VmFlags codes, e.g. ["rd", "wr", "mr", "ac"] */
  vmFlags: string[];
}

// Addresses and offsets are unsigned longs (at most 16 hex digits), inodes 64-bit (at most 20 digits).
const MAPS_LINE = /^([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([r-][w-][x-][ps]) ([0-9a-f]{1,16}) ([0-9a-f]+:[0-9a-f]+) (\d{1,20})(?: +(.*))?$/;
const MAPS_SHAPE = '"start-end perms offset dev inode [path]"';

function parseVmaLine(line: string, source: string, lineNo: number): Vma {
  const m = MAPS_LINE.exec(line);
  if (!m) throw new ParseError(source, lineNo, MAPS_SHAPE, line);
  const start = parseInt(m[1], 16);
  const end = parseInt(m[2], 16);
  if (!(end > start)) throw new ParseError(source, lineNo, 'end address above start', line);
  // (as numbers: 16 hex digits can round up to 2^64, which no page-aligned address does)
  if (!(end < 2 ** 64) || !(parseInt(m[4], 16) < 2 ** 64) || !(Number(m[6]) < 2 ** 64)) throw new ParseError(source, lineNo, 'addresses, offset and inode below 2^64', line);
  return {
    start,
    end,
    perms: m[3],
    offset: parseInt(m[4], 16),
    dev: m[5],
    inode: Number(m[6]),
    path: m[7] ?? '',
  };
}

export function parseMaps(text: string, source = 'maps'): Vma[] {
  const out: Vma[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    out.push(parseVmaLine(lines[i], source, i + 1));
  }
  return out;
}

const FIELD_LINE = /^([A-Za-z_]+):\s+(\d+)(?: (kB))?$/;

/** Parses smaps (many VMAs) or smaps_rollup (one pseudo-VMA named [rollup]). Sizes become bytes. */
export function parseSmaps(text: string, source = 'smaps'): SmapsVma[] {
  const out: SmapsVma[] = [];
  const lines = text.split('\n');
  let cur: SmapsVma | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    if (line.startsWith('VmFlags:')) {
      if (!cur) throw new ParseError(source, i + 1, 'a mapping line before VmFlags', line);
      cur.vmFlags = line.slice('VmFlags:'.length).trim().split(/\s+/).filter(Boolean);
      continue;
    }
    const f = FIELD_LINE.exec(line);
    if (f) {
      if (!cur) throw new ParseError(source, i + 1, 'a mapping line before the first field', line);
      const v = Number(f[2]) * (f[3] === 'kB' ? 1024 : 1);
      if (!Number.isFinite(v)) throw new ParseError(source, i + 1, 'a size that fits a number', line);
      cur.fields[f[1]] = v;
      continue;
    }
    // Anything else must be the next mapping's header line.
    const vma = parseVmaLine(line, source, i + 1);
    cur = { ...vma, fields: {}, vmFlags: [] };
    out.push(cur);
  }
  return out;
}

/** Memory totals of one process, in bytes, from smaps_rollup. USS follows smem: Private_Clean + Private_Dirty. */
export interface MemoryTotals {
  rss: number;
  pss: number;
  uss: number;
  swap: number;
  swapPss: number;
  anonHuge: number;
  fields: Record<string, number>;
}

export function parseSmapsRollup(text: string, source = 'smaps_rollup'): MemoryTotals {
  const vmas = parseSmaps(text, source);
  if (vmas.length !== 1) throw new ParseError(source, 1, 'exactly one [rollup] record', `${vmas.length} records`);
  const f = vmas[0].fields;
  for (const key of ['Rss', 'Pss', 'Private_Clean', 'Private_Dirty', 'Swap']) {
    if (!(key in f)) throw new ParseError(source, 1, `a ${key}: field`, text.split('\n')[0] ?? '');
  }
  return {
    rss: f.Rss,
    pss: f.Pss,
    uss: f.Private_Clean + f.Private_Dirty,
    swap: f.Swap,
    swapPss: f.SwapPss ?? 0,
    anonHuge: f.AnonHugePages ?? 0,
    fields: f,
  };
}

/** The fields of /proc/PID/stat that cowscope uses (proc(5)). */
export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, T, t, Z, X, I… */
  state: string;
  ppid: number;
  /** task flags; PF_KTHREAD marks kernel threads */
  flags: number;
  threads: number;
  /** clock ticks after boot: with the pid, identifies the process across reads */
  startTime: number;
  /** field 52 (Linux 3.5+): the exit status as waitpid(2) reports it; meaningful for a zombie */
  exitCode?: number;
}

export const PF_KTHREAD = 0x00200000;

export function parseStat(text: string, source = 'stat'): ProcStat {
  // comm may hold spaces and parentheses: it ends at the last ')'.
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new ParseError(source, 1, '"pid (comm) state ppid …"', text);
  const rest = text.slice(close + 2).trim().split(/\s+/);
  if (rest.length < 20) throw new ParseError(source, 1, 'at least 22 fields', text);
  // The kernel prints these as decimal integers; anything else (or past 2^53) is not a stat line.
  const whole = (s: string, field: number) => {
    const v = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(v)) throw new ParseError(source, 1, `a whole number in field ${field}`, text);
    return v;
  };
  const num = (i: number) => whole(rest[i], i + 3);
  return {
    pid: whole(text.slice(0, open), 1),
    comm: text.slice(open + 2, close),
    state: rest[0],
    ppid: num(1),
    flags: num(6),
    threads: num(17),
    startTime: num(19),
    ...(rest.length > 49 && /^\d+$/.test(rest[49]) ? { exitCode: Number(rest[49]) } : {}),
  };
}

/** Key: value pairs of /proc/PID/status. */
export function parseStatus(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
