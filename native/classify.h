// The exact tier's per-page rules (analyzers/classify.ts says what each verdict means), over a stretch
// of pages: used by the classification kernels of classify.cc, and by the family pagemap read of
// probe.cc, which classifies each address window of a child as soon as it is read, while the window's
// columns of the child, its parent and its siblings are still in the CPU's cache.
#pragma once

#include "common.h"

#include <cstdint>
#include <cstring>

namespace cowscope {

// analyzers/classify.ts PageClass; pageClassCodes on the addon lets a test hold the two equal.
constexpr uint8_t kNone = 0, kShared = 1, kCopied = 2, kCopiedByParent = 3, kNew = 4, kAbsent = 5, kSwapped = 6, kZero = 7;

// One side's columns: flags per page, and PFNs from page `first` on (pfn[0] is page first's: a family
// read's compact child has only its current window's, FamilyPair in probe.cc).
struct Side {
  const uint16_t* flags;
  const double* pfn;
  size_t pages;
  size_t first = 0;
  double Pfn(size_t i) const { return pfn[i - first]; }
};

// No PFN kept (ClassifyExactRange's keep).
struct KeepNone {
  void operator()(size_t, double) const {}
};

// Classes of child pages [c0, c0 + n) against reference pages from r0 (-1: the reference has no such
// mapping), by the rule of classifyExactRun in analyzers/classify.ts. keep(i, pfn) is called, in page
// order, for each child page whose PFN differs from the paired reference page's (from 0 where none is
// paired): what a family read keeps of a compact child (native/probe.cc FamilyPair).
template <typename Keep = KeepNone>
inline void ClassifyExactRange(uint8_t* out, const Side& c, const Side& r, size_t c0, int64_t r0, size_t n, uint16_t zeroMask, Keep&& keep = Keep()) {
  const uint16_t* cf = c.flags + c0;
  const double* cp = c.pfn + (c0 - c.first);
  uint8_t* o = out + c0;
  if (r0 < 0) {
    for (size_t i = 0; i < n; i++) {
      const uint16_t f = cf[i];
      o[i] = !(f & F_PRESENT) ? (f & F_SWAPPED ? kSwapped : kNone) : f & zeroMask ? kZero : f & F_FILE ? kShared : kNew;
      if (cp[i] != 0) keep(c0 + i, cp[i]);
    }
    return;
  }
  const uint16_t* rf = r.flags + r0;
  const double* rp = r.pfn + (static_cast<size_t>(r0) - r.first);
  for (size_t i = 0; i < n; i++) {
    const uint16_t f = cf[i], g = rf[i];
    uint8_t cls;
    if (!(f & F_PRESENT)) cls = f & F_SWAPPED ? kSwapped : g & F_PRESENT ? kAbsent : kNone;
    else if (f & zeroMask) cls = kZero;
    else if (!(g & F_PRESENT)) cls = f & F_FILE ? kShared : g & F_SWAPPED ? kCopied : kNew;
    else cls = cp[i] == rp[i] ? kShared : kCopied;
    o[i] = cls;
    if (cp[i] != rp[i]) keep(c0 + i, cp[i]);
  }
}

// Whether any of the 8 bytes at p equals b (the zero-byte test of p's word xor b repeated).
inline bool HasByte(const uint8_t* p, uint8_t b) {
  uint64_t w;
  memcpy(&w, p, 8);
  w ^= b * 0x0101010101010101ULL;
  return ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) != 0;
}

// Child pages [c0, c0 + n) against sibling pages from s0: a copied page that the sibling maps at the
// same frame (both present, neither page cache) becomes copiedByParent, by the rule of
// markWrittenByParent in analyzers/classify.ts. Returns the pages marked.
inline size_t MarkSharedFramesRange(uint8_t* out, const Side& c, const Side& s, size_t c0, size_t s0, size_t n) {
  size_t marked = 0;
  for (size_t i = 0; i < n; i++) {
    // Copied pages are few: 8 classes without one are passed over at once.
    if ((i & 7) == 0 && i + 8 <= n && !HasByte(out + c0 + i, kCopied)) {
      i += 7;
      continue;
    }
    if (out[c0 + i] != kCopied) continue;
    const uint16_t f = c.flags[c0 + i], g = s.flags[s0 + i];
    if (!(f & F_PRESENT) || !(g & F_PRESENT) || (f | g) & F_FILE || s.Pfn(s0 + i) != c.Pfn(c0 + i)) continue;
    out[c0 + i] = kCopiedByParent;
    marked++;
  }
  return marked;
}

}  // namespace cowscope
