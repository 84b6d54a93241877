// The sharing pipeline shared by commands: classify each parent-child pair of a capture (analyzers),
// settle exclusive-bit ties by comparing contents (native), summarize (analyzers).

import type { Capture } from '../native/capture';
import { comparePages } from '../native/probe';
import { classifyPair, pageAddresses, resolveTies } from '../analyzers/classify';
import { PairSharing, familyPairs, isCrowded, summarizePair } from '../analyzers/sharing';

export function measureSharing(capture: Capture): PairSharing[] {
  const { tier, pageSize, zeroPagesKnown } = capture.meta;
  const crowded = isCrowded(capture);
  return familyPairs(capture).map(({ child, parent }) => {
    const { classes, ties } = classifyPair(child, parent, { tier, pageSize, zeroPagesKnown, crowded });
    let unresolved = 0;
    if (ties.length) {
      const cmp = comparePages(parent.pid, child.pid, pageAddresses(child, pageSize, ties));
      unresolved = resolveTies(classes, ties, cmp.status);
    }
    return summarizePair(child, parent.pid, classes, pageSize, false, unresolved);
  });
}
