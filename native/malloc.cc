// glibc malloc's arenas walked in one native pass per process: the chunk chain of each heap (the main
// arena's [heap], each thread arena heap), glibc's tcache key, and the chunks that touch a set of pages
// with whether each was free. allocators/glibc/chunks.ts says what the chunks mean and where the heaps
// are; this file only follows the chain and tests the words, as fast as memory is read (a Rails worker's
// [heap] holds ~300,000 chunks: per-chunk loops in JS cost a second per process).
//
// Memory is read a window at a time (1 MiB, forward only), through the page readers of probe.cc: only
// present pages are read, each page once, and a read tap (reuse.cc) records every page read. A word on
// a page that is not present or cannot be read is "not ok", as readWords says.
//
// On the thread pool (mallocChunksAsync) several processes are walked at once: a master and its workers.

#include <napi.h>

#include "common.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace cowscope {
namespace {

// A heap to walk: its pages [start, end), its first chunk at first. first > start: the heap begins with
// glibc's own header (a thread arena heap's heap_info, and malloc_state), listed as one chunk in use.
struct Segment {
  uint64_t start, first, end;
};

struct Options {
  std::vector<Segment> segments;
  std::vector<uint64_t> keepPages;  // sorted
  bool findKey = false;
  uint64_t key = 0;               // the tcache key when not found here (0: none)
  uint64_t arenaHeapMax = 0;      // a chunk starting at a multiple of this is a thread arena heap's header
  uint64_t fastbinMax = 0;        // the largest chunk a fastbin holds
  uint64_t tcacheMax = 0;         // the largest chunk tcache holds (key search)
  uint64_t pageSize = 0;          // the kept pages' size
  uint64_t keepSizeMin = 0;       // also list (as sized) the chunks in use elsewhere of a size in
  uint64_t keepSizeMax = 0;       // [keepSizeMin, keepSizeMax] (0: none)
};

struct Result {
  size_t walked = 0;
  uint64_t key = 0;
  std::vector<uint64_t> start, size;
  std::vector<uint8_t> inUse;
  std::vector<uint64_t> sized, sizedSize;  // the in-use chunks of those sizes that were not kept
};

constexpr size_t kWindowPages = 256;

// Words of one process, read a window of pages at a time; addresses must not decrease by more than a
// window (the walk only moves forward).
class Words {
 public:
  Words(int pid, uint64_t end) : pid_(pid), end_(end), ps_(PageSize()) {}
  // The word at addr (8-aligned): true and its value when its page is present and was read.
  bool At(uint64_t addr, uint64_t* out) {
    if (addr < lo_ || addr + 8 > hi_) Load(addr);
    const size_t k = (addr - lo_) / ps_;
    if (!ok_[k]) {
      *out = 0;
      return false;
    }
    memcpy(out, buf_.data() + (addr - lo_), 8);
    return true;
  }

 private:
  void Load(uint64_t addr) {
    lo_ = addr - addr % ps_;
    std::vector<uint64_t> pages;
    for (uint64_t a = lo_; a < end_ && pages.size() < kWindowPages; a += ps_) pages.push_back(a);
    if (pages.empty()) pages.push_back(lo_);
    hi_ = lo_ + pages.size() * ps_;
    const std::vector<uint8_t> present = PresentMaskOf(pid_, pages);
    std::vector<uint8_t> status(pages.size(), 0);
    buf_.assign(pages.size() * ps_, 0);
    ReadPresentPages(pid_, pages, present, buf_.data(), status, /*tap=*/true);
    ok_.assign(pages.size(), 0);
    for (size_t k = 0; k < pages.size(); k++) {
      ok_[k] = present[k] && status[k] == 0;
      if (!ok_[k]) memset(buf_.data() + k * ps_, 0, ps_);
    }
  }
  int pid_;
  uint64_t end_;
  size_t ps_;
  uint64_t lo_ = 1, hi_ = 0;
  std::vector<uint8_t> buf_, ok_;
};

// Every chunk, with its first two user words (a free chunk's links) and whether they could be read.
struct Chunks {
  std::vector<uint64_t> start, size, w16, w24;
  std::vector<uint8_t> inUse, ok;
};

// The chain of one heap: each chunk's size word (low 3 bits are flags) at +8 gives the next; a chunk is
// in use when the next one's PREV_INUSE bit is set (the last one: in use). Stops at the first
// implausible size (or a page that is not present: zeros).
void WalkSegment(int pid, const Segment& s, Chunks& c) {
  if (s.first > s.start) {
    c.start.push_back(s.start);
    c.size.push_back(s.first - s.start);
    c.inUse.push_back(1);
    c.w16.push_back(0);
    c.w24.push_back(0);
    c.ok.push_back(0);
  }
  Words mem(pid, s.end);
  for (uint64_t p = s.first; p + 16 <= s.end;) {
    uint64_t head = 0;
    mem.At(p + 8, &head);
    const uint64_t size = head & ~uint64_t{7};
    if (size < 32 || size % 16 || size > s.end - p) break;
    uint64_t w16 = 0, w24 = 0;
    const bool ok = mem.At(p + 16, &w16) & mem.At(p + 24, &w24);
    const uint64_t next = p + size;
    uint64_t nextHead = 1;
    if (next + 16 <= s.end) mem.At(next + 8, &nextHead);
    c.start.push_back(p);
    c.size.push_back(size);
    c.inUse.push_back(static_cast<uint8_t>(nextHead & 1));
    c.w16.push_back(w16);
    c.w24.push_back(w24);
    c.ok.push_back(ok);
    p = next;
  }
}

// Index of the last element <= v, or -1.
ptrdiff_t LastAtOrBelow(const std::vector<uint64_t>& sorted, uint64_t v) {
  return std::upper_bound(sorted.begin(), sorted.end(), v) - sorted.begin() - 1;
}

void Run(int pid, const Options& o, Result& r) {
  std::vector<Segment> segs = o.segments;
  std::sort(segs.begin(), segs.end(), [](const Segment& a, const Segment& b) { return a.start < b.start; });
  Chunks c;
  for (const Segment& s : segs) WalkSegment(pid, s, c);
  const size_t n = c.start.size();
  r.walked = n;
  if (!n) return;
  const auto header = [&](size_t i) { return o.arenaHeapMax && c.start[i] > 0 && c.start[i] % o.arenaHeapMax == 0; };
  // A safe-linked next pointer: (address of the link >> 12) XOR next.
  const auto linked = [&](size_t i) { return c.w16[i] ^ ((c.start[i] + 16) >> 12); };

  // The tcache key: the most frequent +24 word among small chunks whose +16 word decodes as a link to 0
  // or to a walked chunk's user pointer (the first to reach a count wins ties), above 2^32.
  r.key = o.key;
  if (o.findKey) {
    std::vector<uint64_t> values;
    std::vector<size_t> counts;
    std::unordered_map<uint64_t, size_t> index;
    for (size_t i = 0; i < n; i++) {
      if (c.size[i] > o.tcacheMax || header(i) || !c.ok[i]) continue;
      const uint64_t next = linked(i);
      if (next != 0) {
        if (next < 16) continue;
        const ptrdiff_t j = LastAtOrBelow(c.start, next - 16);
        if (j < 0 || c.start[j] != next - 16) continue;
      }
      auto it = index.find(c.w24[i]);
      if (it == index.end()) {
        index.emplace(c.w24[i], values.size());
        values.push_back(c.w24[i]);
        counts.push_back(1);
      } else
        counts[it->second]++;
    }
    uint64_t key = 0;
    size_t most = 1;
    for (size_t k = 0; k < values.size(); k++)
      if (counts[k] > most && values[k] > (uint64_t{1} << 32)) key = values[k], most = counts[k];
    r.key = key;
  }

  // The chunks to keep: thread arena headers, and every chunk overlapping a kept page.
  const uint64_t ps = o.pageSize;
  std::vector<uint8_t> marked(n, 0);
  for (size_t i = 0; i < n; i++) marked[i] = header(i);
  for (uint64_t page : o.keepPages) {
    ptrdiff_t i = std::max<ptrdiff_t>(0, LastAtOrBelow(c.start, page));
    for (; static_cast<size_t>(i) < n && c.start[i] < page + ps; i++)
      if (c.start[i] + c.size[i] > page) marked[i] = 1;
  }
  // glibc marks tcache and fastbin chunks in use: free all the same when a tcache chunk carries the key
  // at +24, or a fastbin-sized chunk links at +16 to a chunk of its own size.
  const auto isFree = [&](size_t i) {
    if (!c.inUse[i]) return true;
    if (header(i) || !c.ok[i]) return false;
    if (r.key && c.w24[i] == r.key) return true;
    if (c.size[i] > o.fastbinMax) return false;
    const uint64_t next = linked(i);
    if (next < 16) return false;
    const ptrdiff_t j = LastAtOrBelow(c.start, next - 16);
    return j >= 0 && c.start[j] == next - 16 && c.size[j] == c.size[i];
  };
  for (size_t i = 0; i < n; i++) {
    if (!marked[i]) {
      // (glibc's in-use bit alone: the tcache and fastbin tests are guesses, and a slot pointing to a free
      // chunk is rare enough not to matter here)
      if (o.keepSizeMax && c.size[i] >= o.keepSizeMin && c.size[i] <= o.keepSizeMax && c.inUse[i]) {
        r.sized.push_back(c.start[i]);
        r.sizedSize.push_back(c.size[i]);
      }
      continue;
    }
    r.start.push_back(c.start[i]);
    r.size.push_back(c.size[i]);
    r.inUse.push_back(isFree(i) ? 0 : 1);
  }
}

Options ParseOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Options o;
  const std::vector<uint64_t> seg = ToU64(ArgFloat64Array(info, 1, "segments"));
  if (seg.size() % 3) throw Napi::RangeError::New(env, "segments are [start, first, end] triples");
  const size_t ps = PageSize();
  for (size_t i = 0; i < seg.size(); i += 3) {
    const Segment s{seg[i], seg[i + 1], seg[i + 2]};
    if (s.start % ps || s.end < s.first || s.first < s.start || s.first % 16) throw Napi::RangeError::New(env, "a segment is a page-aligned start <= 16-aligned first <= end");
    o.segments.push_back(s);
  }
  o.keepPages = ToU64(ArgFloat64Array(info, 2, "keepPages"));
  if (!std::is_sorted(o.keepPages.begin(), o.keepPages.end())) throw Napi::RangeError::New(env, "keepPages must be sorted");
  if (info.Length() < 5 || !info[4].IsObject()) throw Napi::TypeError::New(env, "mallocChunks(pid, segments, keepPages, key, { arenaHeapMax, fastbinMax, tcacheMax, pageSize })");
  if (info[3].IsBigInt()) {
    bool lossless = true;
    o.key = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
  } else if (info[3].IsNull() || info[3].IsUndefined())
    o.findKey = true;
  else
    throw Napi::TypeError::New(env, "key must be a bigint (0n: none) or null (find it)");
  Napi::Object lim = info[4].As<Napi::Object>();
  const auto num = [&](const char* name) {
    Napi::Value v = lim.Get(name);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
    return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
  };
  o.arenaHeapMax = num("arenaHeapMax");
  o.fastbinMax = num("fastbinMax");
  o.tcacheMax = num("tcacheMax");
  o.pageSize = num("pageSize");
  if (!lim.Get("keepSizeMax").IsUndefined()) o.keepSizeMin = num("keepSizeMin"), o.keepSizeMax = num("keepSizeMax");
  if (!o.pageSize) throw Napi::RangeError::New(env, "pageSize must be positive");
  return o;
}

Napi::Object ToJs(Napi::Env env, const Result& r) {
  Napi::Float64Array s = Napi::Float64Array::New(env, r.start.size());
  Napi::Float64Array z = Napi::Float64Array::New(env, r.size.size());
  Napi::Uint8Array u = Napi::Uint8Array::New(env, r.inUse.size());
  for (size_t i = 0; i < r.start.size(); i++) {
    s[i] = static_cast<double>(r.start[i]);
    z[i] = static_cast<double>(r.size[i]);
    u[i] = r.inUse[i];
  }
  Napi::Object chunks = Napi::Object::New(env);
  chunks.Set("start", s);
  chunks.Set("size", z);
  chunks.Set("inUse", u);
  Napi::Float64Array sizedStart = Napi::Float64Array::New(env, r.sized.size());
  Napi::Float64Array sizedSize = Napi::Float64Array::New(env, r.sized.size());
  for (size_t i = 0; i < r.sized.size(); i++) {
    sizedStart[i] = static_cast<double>(r.sized[i]);
    sizedSize[i] = static_cast<double>(r.sizedSize[i]);
  }
  Napi::Object sized = Napi::Object::New(env);
  sized.Set("start", sizedStart);
  sized.Set("size", sizedSize);
  Napi::Object out = Napi::Object::New(env);
  out.Set("chunks", chunks);
  out.Set("sized", sized);
  out.Set("walked", Napi::Number::New(env, static_cast<double>(r.walked)));
  out.Set("key", Napi::BigInt::New(env, r.key));
  return out;
}

// mallocChunks(pid, segments, keepPages, key, limits) -> { chunks: { start, size, inUse }, sized, walked, key }
//   segments: Float64Array of [start, first, end] triples (the heaps; walked in address order)
//   keepPages: sorted page addresses; the chunks overlapping one (and thread arena headers) are returned
//   key: the tcache key (bigint, 0n: none), or null to find it (returned as key; 0n: not found)
//   limits: { arenaHeapMax, fastbinMax, tcacheMax, pageSize, keepSizeMin?, keepSizeMax? }
//     (allocators/glibc/chunks.ts's table); sized: { start, size } of the chunks in use of a size in
//     [keepSizeMin, keepSizeMax] that were not kept
Napi::Value MallocChunks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int pid = ArgPid(info, 0);
  const Options o = ParseOptions(info);
  Result r;
  Sync(env, [&] { Run(pid, o, r); });
  return ToJs(env, r);
}

class MallocWorker : public Napi::AsyncWorker {
 public:
  MallocWorker(Napi::Env env, int pid, Options o) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), pid_(pid), o_(std::move(o)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      Run(pid_, o_, r_);
    } catch (const SysError& se) {
      error_ = se;
      failed_ = true;
    }
  }
  void OnOK() override {
    if (failed_)
      deferred_.Reject(ToJsError(Env(), error_).Value());
    else
      deferred_.Resolve(ToJs(Env(), r_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int pid_;
  Options o_;
  Result r_;
  bool failed_ = false;
  SysError error_{0, "", ""};
};

// mallocChunksAsync(...): the same on the thread pool -> Promise
Napi::Value MallocChunksAsync(const Napi::CallbackInfo& info) {
  const int pid = ArgPid(info, 0);
  auto* worker = new MallocWorker(info.Env(), pid, ParseOptions(info));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitMalloc(Napi::Env env, Napi::Object exports) {
  exports.Set("mallocChunks", Napi::Function::New(env, MallocChunks));
  exports.Set("mallocChunksAsync", Napi::Function::New(env, MallocChunksAsync));
}

}  // namespace cowscope
