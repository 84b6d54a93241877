// Bit tables shared by the probe and the analyzers. No addon is loaded here, so offline analysis
// (cowscope report) can use them on any machine.

/** Bits of the per-page flags column: the addon exports the same table (pageFlagBits), and
 *  test/probe.test.ts holds the two equal. */
export const PageFlag = {
  present: 1 << 0,
  swapped: 1 << 1,
  /** pagemap bit 56: mapped exactly once. Unreliable inside PMD-mapped THP (kernel 6.15+). */
  exclusive: 1 << 2,
  /** pagemap bit 61: page-cache page or shared anon (shmem). */
  file: 1 << 3,
  softDirty: 1 << 4,
  uffdWp: 1 << 5,
  guard: 1 << 6,
  /** the zero page (PAGEMAP_SCAN PAGE_IS_PFNZERO); only set when the scan ran. */
  zero: 1 << 7,
  /** PMD-mapped THP or hugetlb (PAGEMAP_SCAN PAGE_IS_HUGE); only set when the scan ran. */
  huge: 1 << 8,
} as const;

/** kpageflags bits cowscope reads (include/uapi/linux/kernel-page-flags.h). */
export const KpageFlag = {
  anon: 1 << 12,
  swapcache: 1 << 13,
  compoundHead: 1 << 15,
  compoundTail: 1 << 16,
  hugetlb: 1 << 17,
  ksm: 1 << 21,
  thp: 1 << 22,
  zeroPage: 1 << 24,
} as const;
