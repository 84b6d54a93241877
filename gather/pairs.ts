// Steps every gather shares once the processes are captured: settle exclusive-bit ties by comparing
// contents, and diff copied pages word by word. Both read memory (native) and record what they found in
// the Capture, so the analysis can be repeated offline from a saved file.

import type { Capture, ProcessCapture } from '../native/capture';
import { comparePages, comparePagesAsync } from '../native/probe';
import { PageClass, classifyPair, pageAddresses } from '../analyzers/classify';
import { analyzePair, isCrowded } from '../analyzers/sharing';
import { forkPathPages } from '../analyzers/fork-path';

export interface Pair {
  child: ProcessCapture;
  reference: ProcessCapture;
  /** the live parent, when the reference is a fork-time twin (for copiedByParent) */
  parent?: ProcessCapture;
}

/** Compares the contents of every page whose "shared" verdict rests on bit 56 alone (exclusive-bit
 *  tier; the exact tier compares frames and has no ties). */
export function settleTies(capture: Capture, pairs: Pair[]): void {
  const { tier, pageSize, zeroPagesKnown } = capture.meta;
  if (tier === 'exact') return;
  const crowded = isCrowded(capture);
  for (const { child, reference } of pairs) {
    const { ties } = classifyPair(child, reference, { tier, pageSize, zeroPagesKnown, crowded });
    if (!ties.length) continue;
    const cmp = comparePages(reference.pid, child.pid, pageAddresses(child, pageSize, ties));
    (capture.ties ??= []).push({ pid: child.pid, reference: reference.pid, status: cmp.status });
  }
}

/** Addresses of a child's copied pages. */
function copiedAddresses(capture: Capture, pair: Pair): Float64Array {
  const { classes } = analyzePair(capture, pair.child, pair.reference, { parent: pair.parent });
  const copied: number[] = [];
  const COPIED = PageClass.copied; // a local: not a property load per page
  for (let i = 0; i < classes.length; i++) if (classes[i] === COPIED) copied.push(i);
  return pageAddresses(pair.child, capture.meta.pageSize, Uint32Array.from(copied));
}

/** Word diffs of every copied page of each child against its reference (the fork-time image, or the
 *  live parent), the children compared at once on the thread pool. */
export async function diffCopiedPagesAsync(capture: Capture, pairs: Pair[]): Promise<void> {
  const addrs = pairs.map((pair) => copiedAddresses(capture, pair));
  const cmps = await Promise.all(pairs.map((pair, i) => comparePagesAsync(pair.reference.pid, pair.child.pid, addrs[i])));
  pairs.forEach((pair, i) => (capture.diffs ??= []).push({ pid: pair.child.pid, reference: pair.reference.pid, addrs: addrs[i], ...cmps[i] }));
}

/** Word diffs of the pages the fork path wrote (the twin against the live parent, exact tier only): the
 *  words at-fork handlers wrote, for blame to tell them from the program's (capture.forkWrites). The
 *  parent forks its children right after the twin and writes little in between. */
export async function diffForkPathAsync(capture: Capture, twin: ProcessCapture, parent: ProcessCapture): Promise<void> {
  if (capture.meta.tier !== 'exact') return;
  const addrs = forkPathPages(twin, parent, capture.meta.pageSize).differ;
  capture.forkWrites = { pid: twin.pid, reference: parent.pid, addrs, ...(await comparePagesAsync(parent.pid, twin.pid, addrs)) };
}
