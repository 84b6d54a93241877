// What fork itself writes in every child: glibc's and the runtime's at-fork handlers (locks and thread
// lists re-initialised, Python's random module reseeded). The twin of a controlled run runs them and then
// stops, so in the exact tier the pages it holds on frames of its own are the fork path's; the words of
// those pages it holds with other values than the parent's are the words the fork path wrote.

import type { Capture, ProcessCapture } from '../native/capture';
import { PageFlag } from '../native/page-flags';
import { pageIndexer } from './classify';
import { indexOf } from '../blame/words';

const present = (proc: ProcessCapture, i: number): boolean => !!(proc.pages.flags[i] & PageFlag.present) && proc.pages.pfn[i] !== 0;

/** The twin's pages the fork path wrote (exact tier), ascending: `differ`, those the parent holds on
 *  another frame (their words can be compared); `fresh`, anonymous memory where the parent holds no page
 *  at all, neither in memory nor in swap (memory it never touched, or a mapping it lacks: an at-fork
 *  handler's malloc took it from the top of the heap, or grew the heap), whose every word the fork path
 *  wrote. (A file's page the parent never touched holds the file's bytes besides.) */
export function forkPathPages(twin: ProcessCapture, parent: ProcessCapture, pageSize: number): { differ: Float64Array; fresh: Float64Array } {
  const inParent = pageIndexer(parent, pageSize);
  const differ: number[] = [];
  const fresh: number[] = [];
  let t = 0;
  for (const v of twin.scanned) {
    const { start, end, inode } = twin.vmas[v];
    for (let addr = start; addr < end; addr += pageSize, t++) {
      if (!present(twin, t)) continue;
      const p = inParent(addr);
      if (p >= 0 && present(parent, p)) {
        if (twin.pages.pfn[t] !== parent.pages.pfn[p]) differ.push(addr);
      } else if (inode === 0 && (p < 0 || !(parent.pages.flags[p] & PageFlag.swapped))) fresh.push(addr);
    }
  }
  return { differ: Float64Array.from(differ), fresh: Float64Array.from(fresh) };
}

/** In the exact tier of a controlled fork, a page the twin holds on a frame of its own (not the
 *  parent's) was written by fork's child side: the twin runs nothing else before it stops. */
export function forkPathCopied(capture: Capture, twin: ProcessCapture): (page: number) => boolean {
  const parent = capture.run ? capture.processes.find((p) => p.pid === capture.run!.parent) : undefined;
  if (!parent || capture.meta.tier !== 'exact' || twin.pid !== capture.run?.reference) return () => false;
  const ps = capture.meta.pageSize;
  const inTwin = pageIndexer(twin, ps);
  const inParent = pageIndexer(parent, ps);
  return (page) => {
    const t = inTwin(page);
    const p = inParent(page);
    return t >= 0 && p >= 0 && present(twin, t) && present(parent, p) && twin.pages.pfn[t] !== parent.pages.pfn[p];
  };
}

/** A page the fork path copied (forkPathCopied) whose bytes it left as the parent's: it stored the values
 *  that were there. glibc does so for thousands of pages when it sorts chunks of one size out of its
 *  unsorted bin (each chunk's links rewritten with the values they held), on the first malloc after the
 *  fork that no tcache or small bin serves, in every child alike. */
export function forkPathKeptBytes(capture: Capture, twin: ProcessCapture): (page: number) => boolean {
  const copied = forkPathCopied(capture, twin);
  const fw = capture.forkWrites;
  if (!fw || fw.pid !== twin.pid) return () => false;
  return (page) => {
    if (!copied(page)) return false;
    const i = indexOf(fw.addrs, page);
    return i >= 0 && fw.status[i] === 0;
  };
}

/** Did the fork path write the word at this address: does the twin hold another value there than the
 *  parent (capture.forkWrites), or a page where the parent holds none? A child that changed the word
 *  changed one the fork path had written in it too (a seed, a thread id: the child's own value differs
 *  from the twin's), and its page is copied in every child whatever the program does. */
export function forkWroteWord(capture: Capture): (addr: number) => boolean {
  const fw = capture.forkWrites;
  if (!fw) return () => false;
  // every child's blame asks: the twin's fresh pages and the sorted words are made once per capture
  let wrote = forkWrote.get(fw);
  if (!wrote) {
    const twin = capture.processes.find((p) => p.pid === fw.pid);
    const parent = capture.processes.find((p) => p.pid === fw.reference);
    if (!twin || !parent) return () => false;
    const ps = capture.meta.pageSize;
    const { fresh } = forkPathPages(twin, parent, ps);
    const words = new Float64Array(fw.wordPage.length);
    for (let k = 0; k < words.length; k++) words[k] = fw.addrs[fw.wordPage[k]] + fw.wordOffset[k];
    words.sort();
    wrote = (addr) => indexOf(words, addr) >= 0 || indexOf(fresh, addr - (addr % ps)) >= 0;
    forkWrote.set(fw, wrote);
  }
  return wrote;
}

const forkWrote = new WeakMap<NonNullable<Capture['forkWrites']>, (addr: number) => boolean>();
