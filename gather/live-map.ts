// The heap maps the live agent leaves (PID.heap.jsonl + PID.meta.json in $COWSCOPE_LIVE_DIR), read
// safely (cowscope inspect often runs as root, and the map directory belongs to the server's user):
//
//   - the directory is opened with O_NOFOLLOW|O_DIRECTORY and accepted only when it is owned by the
//     forking process's uid (or root) and writable by nobody else;
//   - the files are opened inside that opened directory (/proc/self/fd/DIR/NAME, i.e. openat) with
//     O_NOFOLLOW|O_NONBLOCK, and accepted only as regular files with one link, owned by that uid,
//     bounded in size, the map not sparse, the meta file naming the map's inode and size;
//   - the map is parsed through the opened descriptor (never by name again) and validated line by
//     line: malformed lines are counted and reported, a map that is mostly garbage is refused.
//
// A parsed map is kept (by path, device, inode, size and mtime) and reused while the file is unchanged:
// `inspect --watch` parses each map once.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HeapDumpIngest } from '../native/probe';
import { describeBytes } from '../native/regular-file';
import { startedAt } from '../native/proc';

import type { PythonHeapMap } from '../runtimes/python/heap-map';

// The heap map parsers are loaded only when there is a map to parse (most inspected families have none).
// eslint-disable-next-line @typescript-eslint/no-var-requires
const rubyMap = () => require('../runtimes/ruby/heap-map') as typeof import('../runtimes/ruby/heap-map');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const pythonMap = () => require('../runtimes/python/heap-map') as typeof import('../runtimes/python/heap-map');

/** The runtimes whose agents leave live maps: the meta file's "runtime" (absent: Ruby, the first). */
export type LiveRuntime = 'ruby' | 'python';

export interface LiveMeta {
  pid: number;
  ppid?: number;
  runtime: LiveRuntime;
  /** the interpreter's version (the meta file's "ruby" or "python" field) */
  version: string;
  ruby?: string;
  python?: string;
  platform: string;
  heapPageSize: number;
  slotSize: number;
  time: string;
  /** seconds since 1970 when the map was taken */
  epoch: number;
  generation?: number;
  heapIno?: number;
  heapSize?: number;
}

export interface LiveMap {
  file: string;
  meta: LiveMeta;
  /** Ruby: the whole dump ingested; Python: the whole map (runtimes/python/heap-map.ts) */
  parsed: HeapDumpIngest | PythonHeapMap;
  lines: number;
  malformed: number;
  /** parsed at this call (false: reused from the cache) */
  fresh: boolean;
}

/** Why a forking process has no usable map: none (no agent, no map yet), refused (unsafe or invalid),
 *  stale (older than the process). */
export type MapVerdict = { map: LiveMap; warning?: string } | { map?: undefined; kind: 'none' | 'refused' | 'stale'; reason: string };

export const DEFAULT_MAX_MAP_BYTES = 512 * 1024 * 1024;
const MAX_META_BYTES = 64 * 1024;
/** a map with more malformed lines than this share (or than 100 lines) is refused */
const MAX_MALFORMED_SHARE = 0.01;

export function defaultMapDir(uid: number): string {
  return path.join(os.tmpdir(), `cowscope-live-${uid}`);
}

/** The most of a process's environment read for its map directory (ARG_MAX is 2 MiB at most) */
const MAX_ENVIRON_BYTES = 2 * 1024 * 1024;

/** The variables of pid's initial environment (/proc/PID/environ) that say where its agent writes, or
 *  none where it cannot be read (another user's process, unprivileged; gone). */
function mapDirVariables(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').slice(0, MAX_ENVIRON_BYTES);
  } catch {
    return out;
  }
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    if (eq > 0 && (name === 'COWSCOPE_LIVE_DIR' || name === 'TMPDIR' || name === 'TMP' || name === 'TEMP')) out.set(name, entry.slice(eq + 1));
  }
  return out;
}

/** Where the agent in process pid (of uid) wrote its map, most likely first: as the agent decides it,
 *  from the process's own environment ($COWSCOPE_LIVE_DIR, else cowscope-live-UID in the temporary
 *  directory Ruby's Dir.tmpdir and Python's tempfile take: $TMPDIR, $TMP, $TEMP, /tmp); then from
 *  cowscope's (sudo drops TMPDIR, and a server started by a service manager has an environment of its
 *  own). Only absolute paths; whichever is taken passes the same ownership checks. */
export function mapDirCandidates(pid: number, uid: number): string[] {
  const target = mapDirVariables(pid);
  const own = (name: string) => process.env[name];
  const name = `cowscope-live-${uid}`;
  const dirs = [
    target.get('COWSCOPE_LIVE_DIR'),
    ...['TMPDIR', 'TMP', 'TEMP'].map((v) => target.get(v)).filter((d): d is string => !!d).map((d) => path.join(d, name)),
    own('COWSCOPE_LIVE_DIR'),
    defaultMapDir(uid),
    path.join('/tmp', name),
  ];
  return [...new Set(dirs.filter((d): d is string => !!d && path.isAbsolute(d)))];
}

/** The first of the candidates that exists (as any kind of entry: the checks below say what is wrong
 *  with it), or the first candidate. */
function mapDirOf(pid: number, uid: number): { dir: string; tried: string[] } {
  const tried = mapDirCandidates(pid, uid);
  const dir = tried.find((d) => {
    try {
      fs.lstatSync(d);
      return true;
    } catch {
      return false;
    }
  });
  return { dir: dir ?? tried[0], tried };
}

class Refused extends Error {}

const O = fs.constants;

function openIn(dirFd: number, name: string): number | undefined {
  try {
    return fs.openSync(`/proc/self/fd/${dirFd}/${name}`, O.O_RDONLY | O.O_NOFOLLOW | O.O_NONBLOCK | O.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new Refused(`${name} is a symbolic link (not followed)`);
    throw new Refused(`${name} cannot be opened: ${code}`);
  }
}

function checkFile(name: string, st: fs.Stats, uid: number, maxBytes: number): void {
  if (!st.isFile()) throw new Refused(`${name} is not a regular file`);
  if (st.uid !== uid) throw new Refused(`${name} is owned by uid ${st.uid}, not by the process's uid ${uid}`);
  if (st.nlink !== 1) throw new Refused(`${name} has ${st.nlink} hard links (a link to another file?)`);
  if (st.size > maxBytes) throw new Refused(`${name} is ${describeBytes(st.size)}, more than the ${describeBytes(maxBytes)} limit (--max-heap-map)`);
}

function validMeta(m: unknown, pid: number): LiveMeta {
  const o = m as Record<string, unknown>;
  const num = (k: string) => typeof o?.[k] === 'number' && Number.isFinite(o[k] as number);
  const str = (k: string) => typeof o?.[k] === 'string' && (o[k] as string).length < 200;
  const runtime: LiveRuntime | undefined = o?.runtime === undefined ? 'ruby' : o.runtime === 'python' ? 'python' : undefined;
  if (!runtime) throw new Refused(`the meta file names runtime ${JSON.stringify(o.runtime).slice(0, 40)}, not ruby or python`);
  if (!o || typeof o !== 'object' || !num('pid') || !num('epoch') || !num('heapPageSize') || !num('slotSize') || !str(runtime) || !str('platform'))
    throw new Refused('the meta file does not have the fields the agent writes');
  const hps = o.heapPageSize as number;
  if (hps < 4096 || hps > 1 << 20 || hps & (hps - 1)) throw new Refused(`the meta file gives a heap page size of ${hps}`);
  if (!((o.slotSize as number) >= 16 && (o.slotSize as number) <= 1024)) throw new Refused(`the meta file gives a slot size of ${o.slotSize}`);
  if (!/^\d+\.\d+\.\d+/.test(o[runtime] as string)) throw new Refused(`the meta file gives no ${runtime === 'ruby' ? 'Ruby' : 'Python'} version`);
  if (o.pid !== pid) throw new Refused(`the meta file is for process ${o.pid}, not ${pid}`);
  return { time: str('time') ? (o.time as string) : new Date((o.epoch as number) * 1000).toISOString(), ...(o as object), runtime, version: o[runtime] as string } as LiveMeta;
}

/** Objects a parsed map holds, whichever runtime wrote it. */
function objectsOf(parsed: HeapDumpIngest | PythonHeapMap): number {
  return typeof parsed.objects === 'number' ? parsed.objects : parsed.objects.addr.length;
}

const cache = new Map<string, { key: string; map: Omit<LiveMap, 'fresh'> }>();

/** The heap map of forking process pid (owned by uid), if there is one that is safe and valid. */
export function loadLiveMap(pid: number, uid: number, opts: { dir?: string; maxBytes?: number } = {}): MapVerdict {
  const { dir, tried } = opts.dir ? { dir: opts.dir, tried: [opts.dir] } : mapDirOf(pid, uid);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_MAP_BYTES;
  const fds: number[] = [];
  try {
    let dirFd: number;
    try {
      dirFd = fs.openSync(dir, O.O_RDONLY | O.O_DIRECTORY | O.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        return {
          kind: 'none',
          reason: `no heap-map directory ${tried.length > 1 ? `(looked in ${tried.join(', ')})` : tried[0]} (is the agent loaded? RUBYOPT=-r$(cowscope agent-path), PYTHONPATH=$(cowscope agent-path --runtime python); it writes to $COWSCOPE_LIVE_DIR, else $TMPDIR/cowscope-live-UID: give that folder with --heap-map-dir)`,
        };
      if (code === 'ELOOP' || code === 'ENOTDIR') {
        let link = code === 'ELOOP';
        try {
          link ||= fs.lstatSync(dir).isSymbolicLink();
        } catch {
          /* gone meanwhile */
        }
        throw new Refused(`${dir} is ${link ? 'a symbolic link (not followed)' : 'not a directory'}`);
      }
      throw new Refused(`${dir} cannot be opened: ${code}`);
    }
    fds.push(dirFd);
    const dst = fs.fstatSync(dirFd);
    if (dst.uid !== uid && dst.uid !== 0) throw new Refused(`${dir} is owned by uid ${dst.uid}, neither the process's uid ${uid} nor root`);
    if (dst.mode & 0o022) throw new Refused(`${dir} is writable by ${dst.mode & 0o002 ? 'others' : 'its group'} (mode ${(dst.mode & 0o7777).toString(8)})`);

    const metaName = `${pid}.meta.json`;
    const heapName = `${pid}.heap.jsonl`;
    const metaFd = openIn(dirFd, metaName);
    if (metaFd === undefined) return { kind: 'none', reason: `no heap map for process ${pid} in ${dir} (the agent is not loaded in it, or it has not forked since)` };
    fds.push(metaFd);
    checkFile(metaName, fs.fstatSync(metaFd), uid, MAX_META_BYTES);
    let meta: LiveMeta;
    try {
      meta = validMeta(JSON.parse(fs.readFileSync(metaFd, 'utf8')), pid);
    } catch (e) {
      if (e instanceof Refused) throw e;
      throw new Refused(`${metaName} is not JSON`);
    }
    const started = startedAt(pid);
    if (!(meta.epoch >= (started ?? Infinity) - 1))
      return { kind: 'stale', reason: `the heap map ${path.join(dir, heapName)} is older than process ${pid} (a restart, or a reused pid); it is rewritten at the process's next fork` };

    const heapFd = openIn(dirFd, heapName);
    if (heapFd === undefined) return { kind: 'none', reason: `${path.join(dir, heapName)} is missing (removed, or being replaced)` };
    fds.push(heapFd);
    const st = fs.fstatSync(heapFd);
    checkFile(heapName, st, uid, maxBytes);
    if (st.size === 0) throw new Refused(`${heapName} is empty`);
    if (st.blocks * 512 < st.size / 2) throw new Refused(`${heapName} is sparse (${describeBytes(st.size)} with ${describeBytes(st.blocks * 512)} on disk): not a map the agent wrote`);
    if ((meta.heapIno !== undefined && meta.heapIno !== st.ino) || (meta.heapSize !== undefined && meta.heapSize !== st.size))
      return { kind: 'none', reason: `the heap map of process ${pid} is being replaced (its meta file names another map): next sample` };

    const file = path.join(dir, heapName);
    const key = `${meta.runtime}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${meta.heapPageSize}:${meta.slotSize}`;
    const hit = cache.get(file);
    let map: Omit<LiveMap, 'fresh'>;
    let fresh = false;
    if (hit && hit.key === key) map = { ...hit.map, meta };
    else {
      // parsed through the descriptor we checked: the name is never looked up again
      const fdPath = `/proc/self/fd/${heapFd}`;
      const parsed =
        meta.runtime === 'python'
          ? pythonMap().ingestPythonHeapMap(fdPath, null, 4096, maxBytes)
          : rubyMap().ingestWholeRubyHeapMap(fdPath, meta.heapPageSize, meta.slotSize);
      map = { file, meta, parsed, lines: parsed.lines ?? 0, malformed: parsed.malformed };
      fresh = true;
      cache.set(file, { key, map });
    }
    if (objectsOf(map.parsed) === 0) throw new Refused(`${heapName} holds no heap objects (${map.lines} lines, ${map.malformed} malformed)`);
    if (map.malformed > Math.max(100, MAX_MALFORMED_SHARE * map.lines)) {
      cache.delete(file);
      throw new Refused(`${heapName} has ${map.malformed} malformed lines of ${map.lines}: not a heap map`);
    }
    const warning = map.malformed ? `the heap map ${file} has ${map.malformed} malformed line${map.malformed === 1 ? '' : 's'} of ${map.lines} (skipped)` : undefined;
    return { map: { ...map, fresh }, warning };
  } catch (e) {
    if (e instanceof Refused) return { kind: 'refused', reason: `heap map of process ${pid} refused: ${e.message}` };
    return { kind: 'refused', reason: `heap map of process ${pid} cannot be read: ${(e as Error).message}` };
  } finally {
    for (const fd of fds.reverse()) fs.closeSync(fd);
  }
}

/** Forgets parsed maps of files no longer looked at (a bound on memory in a long --watch). */
export function forgetMapsExcept(files: Set<string>): void {
  for (const f of cache.keys()) if (!files.has(f)) cache.delete(f);
}
