// What changed words are to glibc malloc: its own bookkeeping (chunk headers, bin and tcache links, the
// tcache key), memory the child allocated itself, or the contents of a chunk in use at the fork (for the
// runtime's rules to decode). The blame asks this of every changed word of a child and of every value it
// stored (where the pointer leads): close to two million lookups for a Rails worker, which cost a fifth
// of its blame in JS. allocators/glibc/rules.ts says what the kinds mean and owns the interface.

#include <napi.h>

#include "common.h"

#include <cmath>
#include <algorithm>
#include <utility>
#include <vector>

namespace cowscope {
namespace {

// ChunkWords.kind values (allocators/glibc/rules.ts CW).
enum Kind : uint8_t { kNone = 0, kMeta = 1, kPrevInUse = 2, kFresh = 3, kContent = 4 };

// A sorted list of chunks, looked up with a cursor: the changed words come in address order, so most
// lookups land where the last one did (in a chunk, or in the gap after it: most changed words lie on GC
// heap pages, between two chunks of a thread arena) or one chunk further, with no binary search. Any
// order gives the same answers (the chunk with the last start at or below the address, if the address
// is inside it).
class Chunks {
 public:
  Chunks() = default;
  // end[i] = start[i] + size[i], computed once a blame in JS (GlibcView.forkEnds): a Rails worker has
  // ~330K chunks, and a vector of their ends made per call was a fresh 2.6 MiB the kernel faulted in.
  Chunks(const double* start, const double* size, const double* end, const uint8_t* inUse, size_t n) : start_(start), size_(size), end_(end), inUse_(inUse), n_(n) {}
  ptrdiff_t At(double a) const {
    if (!n_ || a < start_[0]) return -1;
    // pos_: the last chunk starting at or below the address looked up before (a >= start_[0]: found)
    if (pos_ < 0 || !Covers(pos_, a)) pos_ = pos_ >= 0 && start_[pos_] < a ? Forward(a) : LastAtOrBelow(a);
    return a < end_[pos_] ? pos_ : -1;
  }
  // Index of the last chunk starting at or below a, or -1.
  ptrdiff_t LastAtOrBelow(double a) const { return std::upper_bound(start_, start_ + n_, a) - start_ - 1; }
  // The same for an address above the cursor's chunk: galloping from the cursor (1, 2, 4, … chunks on),
  // then a binary search of the last stride. Addresses looked up in ascending order cost a few steps
  // each, near the chunks looked at last (still in cache), instead of a search of the whole list.
  ptrdiff_t Forward(double a) const {
    size_t lo = static_cast<size_t>(pos_) + 1, step = 1;
    while (lo + step <= n_ && start_[lo + step - 1] <= a) lo += step, step *= 2;
    return std::upper_bound(start_ + lo, start_ + std::min(n_, lo + step), a) - start_ - 1;
  }
  double start(size_t i) const { return start_[i]; }
  double size(size_t i) const { return size_[i]; }
  double end(size_t i) const { return end_[i]; }
  bool inUse(size_t i) const { return inUse_[i] != 0; }
  size_t count() const { return n_; }

 private:
  // Is chunk i the last one starting at or below a?
  bool Covers(ptrdiff_t i, double a) const { return start_[i] <= a && (static_cast<size_t>(i) + 1 == n_ || start_[i + 1] > a); }

  const double* start_ = nullptr;
  const double* size_ = nullptr;
  const double* end_ = nullptr;
  const uint8_t* inUse_ = nullptr;
  size_t n_ = 0;
  mutable ptrdiff_t pos_ = -1;
};

struct View {
  Chunks fork, child;
  double heapStart = 0, heapLo = 0, heapHi = 0;
  bool hasKey = false;
  uint64_t key = 0;
  // a thread arena heap's size and alignment (allocators/glibc/chunks.ts ARENA_HEAP.maxSize)
  uint64_t arenaMax = 0;
  // the base of the thread arena heap an address would lie in (chunk addresses are exact doubles)
  double ArenaBase(double a) const {
    const uint64_t u = static_cast<uint64_t>(a);
    return static_cast<double>(u - u % arenaMax);
  }
};

// Where chunks lie: the union of the chunks of both lists, as sorted, disjoint [start, end) spans (one
// per run of adjacent chunks: a heap or a part of one). An address outside every span is in no chunk of
// either list, so Chunks::At would find none.
class Spans {
 public:
  explicit Spans(const View& g) {
    std::vector<std::pair<double, double>> all;
    for (const Chunks* c : {&g.fork, &g.child}) {
      for (size_t i = 0; i < c->count(); i++) {
        if (!all.empty() && c->start(i) >= all.back().first && c->start(i) <= all.back().second) {
          all.back().second = std::max(all.back().second, c->end(i));
        } else {
          all.emplace_back(c->start(i), c->end(i));
        }
      }
    }
    std::sort(all.begin(), all.end());
    for (const auto& [s, e] : all) {
      if (!start_.empty() && s <= end_.back()) {
        end_.back() = std::max(end_.back(), e);
      } else {
        start_.push_back(s);
        end_.push_back(e);
      }
    }
  }
  bool Covers(double a) const {
    const size_t i = std::upper_bound(start_.begin(), start_.end(), a) - start_.begin();
    return i > 0 && a < end_[i - 1];
  }

 private:
  std::vector<double> start_, end_;
};

// A row: its kind, and for FRESH, CONTENT and PREV_IN_USE the chunk it names, as an index into the
// fork-time list (i >= 0) or the child's (-2 - i); the start, size and offset follow from it and the
// word's address (allocators/glibc/rules.ts ChunkWords). Three columns of doubles instead were 24 bytes a
// row for two lookups of a Rails worker's 900K words: 43 MiB the kernel faulted in for every blame.
struct Out {
  uint8_t* kind;
  int32_t* chunk;
};

constexpr int32_t ForkChunk(ptrdiff_t i) { return static_cast<int32_t>(i); }
constexpr int32_t ChildChunk(ptrdiff_t i) { return static_cast<int32_t>(-2 - i); }

// Does a chunk of the list start at a thread arena heap's base: that "chunk" is the heap's header.
bool IsArenaHeader(const View& g, double start) { return start > 0 && g.ArenaBase(start) == start; }

// Does addr lie in a thread arena heap whose header chunk was walked (fork-time or the child's)?
bool InArenaHeap(const View& g, double addr) {
  const double base = g.ArenaBase(addr);
  const auto listed = [&](const Chunks& c) {
    const ptrdiff_t i = c.LastAtOrBelow(base);
    return i >= 0 && c.start(static_cast<size_t>(i)) == base;
  };
  return listed(g.fork) || listed(g.child);
}

// A tcache next link as glibc 2.32+ stores it: (address of the word >> 12) XOR next; next lies in
// [heap], or in the same thread arena heap as the word.
bool IsSafeLink(const View& g, double addr, uint64_t v) {
  const uint64_t next = v ^ (static_cast<uint64_t>(addr) >> 12);
  if (next == 0) return g.heapHi != 0 || InArenaHeap(g, addr);
  if (next % 16) return false;
  const double n = static_cast<double>(next);
  if (g.heapHi != 0 && n >= g.heapLo && n < g.heapHi) return true;
  const double base = g.ArenaBase(addr);
  return InArenaHeap(g, addr) && n > base && n < base + static_cast<double>(g.arenaMax);
}

// Words of a free chunk that glibc writes: fd/bk (tcache next and key) at +16/+24, and fd_nextsize/
// bk_nextsize at +32/+40 of large chunks (1024 bytes and more).
bool IsFreeLink(double off, double size) { return off == 16 || off == 24 || (size >= 1024 && (off == 32 || off == 40)); }

// Is v 0 or the start of a chunk of either walk (where glibc's bin links lead, but for a bin's head)?
bool IsChunkStartOrNull(const View& g, uint64_t v) {
  if (v == 0) return true;
  const double a = static_cast<double>(v);
  const auto starts = [&](const Chunks& c) {
    const ptrdiff_t i = c.LastAtOrBelow(a);
    return i >= 0 && c.start(static_cast<size_t>(i)) == a;
  };
  return starts(g.child) || starts(g.fork);
}

// Is addr the prev_size word of a chunk whose predecessor is in use (the child's view where known)?
// c, ck: the fork-time and the child's chunk holding addr.
bool InPrevSize(const View& g, double addr, ptrdiff_t c, ptrdiff_t ck) {
  if (ck >= 0) return ck > 0 && addr - g.child.start(ck) < 8 && g.child.end(ck - 1) == g.child.start(ck) && g.child.inUse(ck - 1);
  return c > 0 && addr - g.fork.start(c) < 8 && g.fork.end(c - 1) == g.fork.start(c) && g.fork.inUse(c - 1);
}

// The kind of the word at addr (fork-time value o, the child's n), with its chunk written into row k of
// out where the kind has one.
Kind Classify(const View& g, double addr, uint64_t o, uint64_t n, const Out& out, size_t k) {
  // A chunk's first word (prev_size) is user data of the chunk before it while that one is in use.
  ptrdiff_t c = g.fork.At(addr);
  ptrdiff_t ck = g.child.At(addr);
  if (InPrevSize(g, addr, c, ck)) c = g.fork.At(addr - 8), ck = g.child.At(addr - 8);
  if (c < 0 && ck < 0) return kNone;
  const double start = c >= 0 ? g.fork.start(c) : g.child.start(ck);
  // The main arena's first chunk is tcache_perthread_struct; a thread arena heap starts with its
  // heap_info and malloc_state: glibc's own.
  if (start == g.heapStart || IsArenaHeader(g, start)) return kMeta;
  const auto isKey = [&](uint64_t w) { return g.hasKey && w == g.key; };
  // The child carved this memory differently (it freed the fork-time chunk, or allocated from a free
  // one): its own chunk says what the word is now.
  const bool recarved = ck >= 0 && (c < 0 || g.child.start(ck) != start || g.child.size(ck) != g.fork.size(c));
  if (recarved || (c >= 0 && !g.fork.inUse(c))) {
    const double s = ck >= 0 ? g.child.start(ck) : start;
    const double off = addr - s;
    if (off < 16) return kMeta;
    if (ck >= 0 && !g.child.inUse(ck) && IsFreeLink(off, g.child.size(ck))) return kMeta;
    // A chunk in use at the fork that the child freed, merged since with its free neighbours into the
    // larger free chunk the child's heap shows: its header and links, written by that free before the
    // merge, are glibc's all the same (QA, 3.1: garbage at the fork that the child's lazy sweep freed,
    // 60,000 buffers of 224 bytes, 3,204 pages a child taken for allocations).
    if (ck >= 0 && !g.child.inUse(ck) && c >= 0 && g.fork.inUse(c)) {
      const double forkOff = addr - g.fork.start(c);
      if (forkOff < 16 || IsFreeLink(forkOff, g.fork.size(c))) return kMeta;
    }
    // So are those of a chunk free at the fork, merged the same way, where a link now leads to a chunk's
    // start as glibc's do: glibc relinked it in its bin (a neighbour in the list taken or added) before
    // the merge left its words behind (QA, 3.1: Strings frozen in the child shrank their buffers, the
    // remainders merged with the free chunks after them, 400 pages a child of those chunks' old links
    // taken for allocations). Not anything else there: the child may have allocated that chunk and freed
    // it since, leaving its data (a method table's entries: GC heap addresses).
    if (ck >= 0 && !g.child.inUse(ck) && c >= 0 && !g.fork.inUse(c)) {
      const double forkOff = addr - g.fork.start(c);
      if (forkOff < 16 || (IsFreeLink(forkOff, g.fork.size(c)) && IsChunkStartOrNull(g, n))) return kMeta;
    }
    if (isKey(o) || isKey(n)) return kMeta;
    // Anything else the child wrote there: it allocated the memory (and may have freed it since).
    out.chunk[k] = ck >= 0 ? ChildChunk(ck) : ForkChunk(c);
    return kFresh;
  }
  const double off = addr - start;
  // A chunk in use at the fork that the child freed: its bin links are glibc's.
  if (ck >= 0 && !g.child.inUse(ck) && IsFreeLink(off, g.fork.size(c))) return kMeta;
  if (off == 8 && (o >> 32) == (n >> 32) && ((o ^ n) & 0xffffffffu) == 1 && c > 0 && g.fork.end(c - 1) == start) {
    out.chunk[k] = ForkChunk(c - 1);
    return kPrevInUse;
  }
  if (off < 16) return kMeta;
  // glibc's own words in a chunk freed into tcache: the key at +24, the safe-linked next pointer at +16.
  if (isKey(o) || isKey(n)) return kMeta;
  if (off == 16 && (IsSafeLink(g, addr, n) || IsSafeLink(g, addr, o))) return kMeta;
  out.chunk[k] = ForkChunk(c);
  return kContent;
}

template <typename TA>
TA Prop(Napi::Object o, const char* name, napi_typedarray_type type, const char* typeName) {
  Napi::Value v = o.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(o.Env(), std::string("classifyChunkWords: ") + name + " must be a " + typeName);
  return v.As<TA>();
}

double NumberProp(Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("classifyChunkWords: ") + name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

Chunks ChunksProp(Napi::Object g, const char* start, const char* size, const char* end, const char* inUse) {
  if (g.Get(start).IsUndefined()) return Chunks();
  auto s = Prop<Napi::Float64Array>(g, start, napi_float64_array, "Float64Array");
  auto z = Prop<Napi::Float64Array>(g, size, napi_float64_array, "Float64Array");
  auto e = Prop<Napi::Float64Array>(g, end, napi_float64_array, "Float64Array");
  auto u = Prop<Napi::Uint8Array>(g, inUse, napi_uint8_array, "Uint8Array");
  if (z.ElementLength() != s.ElementLength() || e.ElementLength() != s.ElementLength() || u.ElementLength() != s.ElementLength())
    throw Napi::RangeError::New(g.Env(), std::string("classifyChunkWords: ") + start + ", " + size + ", " + end + " and " + inUse + " differ in length");
  return Chunks(s.Data(), z.Data(), e.Data(), u.Data(), s.ElementLength());
}

// classifyChunkWords(view, addrs: Float64Array | null, oldWord, newWord: BigUint64Array,
//                    skip: Uint8Array | null, out: {kind, chunk}): row k of out says what
// the word at addrs[k] is (old value oldWord[k], the child's newWord[k]); with addrs null, what the
// address newWord[k] is (a stored pointer's target: its value on both sides). Rows with skip[k] set,
// and words in no chunk, get kind 0. view: {forkStart, forkSize, forkEnd, forkInUse, childStart?,
// childSize?, childEnd?, childInUse?, heapStart, heapLo, heapHi, tcacheKey: bigint (0n: none), arenaMax}, chunks sorted.
Napi::Value ClassifyChunkWords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsObject() || !info[5].IsObject()) throw Napi::TypeError::New(env, "classifyChunkWords(view, addrs, oldWord, newWord, skip, out)");
  Napi::Object gv = info[0].As<Napi::Object>();
  View g;
  g.fork = ChunksProp(gv, "forkStart", "forkSize", "forkEnd", "forkInUse");
  g.child = ChunksProp(gv, "childStart", "childSize", "childEnd", "childInUse");
  g.heapStart = NumberProp(gv, "heapStart");
  g.heapLo = NumberProp(gv, "heapLo");
  g.heapHi = NumberProp(gv, "heapHi");
  const double arenaMax = NumberProp(gv, "arenaMax");
  if (!(arenaMax >= 1 && arenaMax < 9007199254740992)) throw Napi::RangeError::New(env, "classifyChunkWords: arenaMax must be positive");
  g.arenaMax = static_cast<uint64_t>(arenaMax);
  Napi::Value key = gv.Get("tcacheKey");
  if (!key.IsBigInt()) throw Napi::TypeError::New(env, "classifyChunkWords: tcacheKey must be a bigint (0n: none)");
  bool lossless = true;
  g.key = key.As<Napi::BigInt>().Uint64Value(&lossless);
  g.hasKey = g.key != 0;
  const auto words = [&](size_t i, const char* what) {
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array)
      throw Napi::TypeError::New(env, std::string("classifyChunkWords: ") + what + " must be a BigUint64Array");
    return info[i].As<Napi::BigUint64Array>();
  };
  Napi::BigUint64Array oldWord = words(2, "oldWord"), newWord = words(3, "newWord");
  const size_t n = newWord.ElementLength();
  const double* addrs = nullptr;
  if (!info[1].IsNull()) {
    Napi::Float64Array a = ArgFloat64Array(info, 1, "addrs");
    if (a.ElementLength() != n) throw Napi::RangeError::New(env, "classifyChunkWords: one address per word");
    addrs = a.Data();
  }
  const uint8_t* skip = nullptr;
  if (!info[4].IsNull()) {
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || info[4].As<Napi::Uint8Array>().ElementLength() != n)
      throw Napi::TypeError::New(env, "classifyChunkWords: skip must be null or a Uint8Array, one row per word");
    skip = info[4].As<Napi::Uint8Array>().Data();
  }
  Napi::Object ov = info[5].As<Napi::Object>();
  auto kind = Prop<Napi::Uint8Array>(ov, "kind", napi_uint8_array, "Uint8Array");
  auto chunk = Prop<Napi::Int32Array>(ov, "chunk", napi_int32_array, "Int32Array");
  if (oldWord.ElementLength() != n || kind.ElementLength() != n || chunk.ElementLength() != n)
    throw Napi::RangeError::New(env, "classifyChunkWords: old and new words and the out rows must be as many");
  if (g.fork.count() > INT32_MAX || g.child.count() > INT32_MAX) throw Napi::RangeError::New(env, "classifyChunkWords: over 2^31 chunks");
  const Out out{kind.Data(), chunk.Data()};
  const uint64_t* o = oldWord.Data();
  const uint64_t* w = newWord.Data();
  // Every chunk lies in [lo, hi): most stored values are no address in it (small numbers, characters).
  double lo = INFINITY, hi = -INFINITY;
  for (const Chunks* c : {&g.fork, &g.child})
    for (size_t i = 0; i < c->count(); i++) lo = std::min(lo, c->start(i)), hi = std::max(hi, c->end(i));
  if (addrs) {
    for (size_t k = 0; k < n; k++) {
      kind[k] = kNone;
      if ((skip && skip[k]) || addrs[k] < lo || addrs[k] >= hi) continue;
      kind[k] = Classify(g, addrs[k], o[k], w[k], out, k);
    }
    return env.Undefined();
  }
  // Stored values come in no order: the ones that may be chunk addresses are classified in address order,
  // so that each lookup starts from the last one's chunk (Chunks::At) instead of searching every list.
  // [lo, hi) spans the main heap and the thread arenas' heaps far apart, and most values in it point
  // between them (a Rails worker's references to GC heap pages: half its values): only those inside the
  // spans the chunks cover are sorted and looked up; the others are in no chunk.
  const Spans spans(g);
  std::vector<std::pair<double, size_t>> targets;
  for (size_t k = 0; k < n; k++) {
    kind[k] = kNone;
    const double addr = static_cast<double>(w[k]);
    if (!(skip && skip[k]) && addr >= lo && addr < hi && spans.Covers(addr)) targets.emplace_back(addr, k);
  }
  std::sort(targets.begin(), targets.end());
  // addr is exact (below hi, a chunk's end), so it is w[k] again, without reading w at random
  for (const auto& [addr, k] : targets) {
    const uint64_t v = static_cast<uint64_t>(addr);
    kind[k] = Classify(g, addr, v, v, out, k);
  }
  return env.Undefined();
}

}  // namespace

void InitChunkWords(Napi::Env env, Napi::Object exports) { exports.Set("classifyChunkWords", Napi::Function::New(env, ClassifyChunkWords)); }

}  // namespace cowscope
