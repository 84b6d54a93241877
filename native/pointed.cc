// Where the words a child changed point: the changed words of a Rails worker number close to a million,
// and the structure discovery asks of each whether it is a pointer into anonymous memory (the pages
// such pointers lead to, the objects a worker allocated itself). Per-word loops in JS, on BigInt words,
// cost a third of a second per child; here they cost milliseconds. The callers (runtimes/ruby/adapter.ts)
// say what the answers mean.

#include <napi.h>

#include "common.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace cowscope {
namespace {

// Exact doubles end at 2^53: a word above it is no address of this machine (and JS would round it).
constexpr uint64_t kMaxAddress = uint64_t{1} << 53;

// Sorted, disjoint ranges [start, end). Find first rejects what lies outside them all, then tries the
// range of the last hit (pointers cluster), then searches: most of a million words are no pointer into
// them, and a binary search per word is what costs.
class Ranges {
 public:
  Ranges(std::vector<uint64_t> start, std::vector<uint64_t> end) {
    std::vector<size_t> order(start.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return start[a] < start[b]; });
    for (size_t i : order) start_.push_back(start[i]), end_.push_back(end[i]);
    if (!start_.empty()) lo_ = start_.front(), hi_ = *std::max_element(end_.begin(), end_.end());
  }
  // The range holding a, or -1.
  ptrdiff_t Find(uint64_t a) const {
    if (a < lo_ || a >= hi_) return -1;
    if (last_ >= 0 && a >= start_[last_] && a < end_[last_]) return last_;
    const ptrdiff_t r = std::upper_bound(start_.begin(), start_.end(), a) - start_.begin() - 1;
    if (r < 0 || a >= end_[r]) return -1;
    last_ = r;
    return r;
  }
  bool Has(uint64_t a) const { return Find(a) >= 0; }
  size_t size() const { return start_.size(); }
  uint64_t start(size_t r) const { return start_[r]; }
  uint64_t end(size_t r) const { return end_[r]; }

 private:
  std::vector<uint64_t> start_, end_;
  uint64_t lo_ = 0, hi_ = 0;
  mutable ptrdiff_t last_ = -1;
};

Napi::BigUint64Array BigWords(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array)
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a BigUint64Array");
  return info[i].As<Napi::BigUint64Array>();
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

Napi::Float64Array Sorted(Napi::Env env, std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  Napi::Float64Array out = Napi::Float64Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) out[i] = static_cast<double>(v[i]);
  return out;
}

// pointedPages(words: BigUint64Array[], starts, ends, pageSize, pages: Float64Array, max) -> Float64Array:
// pages plus the pages that 8-aligned words point to inside the ranges, at most max of them added (the
// first found, the lists in order), sorted. The ranges are mappings (page-aligned); pages already seen
// are marked in a bitmap per range (a million words point to a few thousand pages: a hash set per word
// is what costs).
Napi::Value PointedPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "pointedPages(words[], starts, ends, pageSize, pages, max)");
  const uint64_t ps = static_cast<uint64_t>(ArgNumber(info, 3, "pageSize"));
  if (!ps) throw Napi::RangeError::New(env, "pageSize must be positive");
  const std::vector<uint64_t> starts = ToU64(ArgFloat64Array(info, 1, "starts")), ends = ToU64(ArgFloat64Array(info, 2, "ends"));
  for (size_t i = 0; i < starts.size(); i++)
    if (starts[i] % ps || ends[i] % ps || ends[i] < starts[i]) throw Napi::RangeError::New(env, "pointedPages: the ranges must be page-aligned mappings");
  const Ranges ranges(starts, ends);
  std::vector<uint64_t> pages = ToU64(ArgFloat64Array(info, 4, "pages"));
  const double max = ArgNumber(info, 5, "max");
  std::vector<std::vector<bool>> seen(ranges.size());
  const auto mark = [&](size_t r, uint64_t page) -> bool {  // true when first seen
    std::vector<bool>& bits = seen[r];
    if (bits.empty()) bits.resize((ranges.end(r) - ranges.start(r) + ps - 1) / ps);
    const size_t k = (page - ranges.start(r)) / ps;
    if (bits[k]) return false;
    bits[k] = true;
    return true;
  };
  for (uint64_t page : pages) {
    const ptrdiff_t r = ranges.Find(page);
    if (r >= 0) mark(r, page);
  }
  size_t added = 0;
  Napi::Array lists = info[0].As<Napi::Array>();
  for (uint32_t l = 0; l < lists.Length(); l++) {
    Napi::Value v = lists.Get(l);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array) throw Napi::TypeError::New(env, "words must be BigUint64Arrays");
    Napi::BigUint64Array words = v.As<Napi::BigUint64Array>();
    const uint64_t* w = words.Data();
    for (size_t k = 0; k < words.ElementLength() && added < max; k++) {
      if (w[k] % 8 || w[k] >= kMaxAddress) continue;
      const ptrdiff_t r = ranges.Find(w[k]);
      if (r < 0) continue;
      const uint64_t page = w[k] - w[k] % ps;
      if (mark(r, page)) {
        pages.push_back(page);
        added++;
      }
    }
  }
  return Sorted(env, std::move(pages));
}

// bornTargets(newWord, wordPage, addrs, bodies, bodySize, starts, ends, max) -> Float64Array: the
// distinct 8-aligned values at or above 0x10000 of a child's changed words, on a page outside the known
// GC heap bodies, that point outside them into the ranges; at most max (the first found), sorted.
// bodies: sorted body addresses, each bodySize long (a word's body: its address rounded down to bodySize).
Napi::Value BornTargets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::BigUint64Array newWord = BigWords(info, 0, "newWord");
  const uint64_t* words = newWord.Data();
  const size_t n = newWord.ElementLength();
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "wordPage must be a Uint32Array");
  Napi::Uint32Array wordPage = info[1].As<Napi::Uint32Array>();
  const std::vector<uint64_t> addrs = ToU64(ArgFloat64Array(info, 2, "addrs"));
  const std::vector<uint64_t> bodies = ToU64(ArgFloat64Array(info, 3, "bodies"));
  const uint64_t bodySize = static_cast<uint64_t>(ArgNumber(info, 4, "bodySize"));
  const Ranges ranges(ToU64(ArgFloat64Array(info, 5, "starts")), ToU64(ArgFloat64Array(info, 6, "ends")));
  const double max = ArgNumber(info, 7, "max");
  if (wordPage.ElementLength() != n || !bodySize) throw Napi::RangeError::New(env, "bornTargets: one page per word, a body size");
  const auto known = [&](uint64_t a) { return std::binary_search(bodies.begin(), bodies.end(), a - a % bodySize); };
  std::unordered_set<uint64_t> targets;
  std::vector<uint64_t> out;
  // the words come page by page: whether a page is on the known GC heap is found once per page
  uint32_t lastPage = UINT32_MAX;
  bool pageKnown = false;
  for (size_t k = 0; k < n && targets.size() < max; k++) {
    const uint64_t v = words[k];
    if (v % 8 || v < 0x10000 || v >= kMaxAddress || !ranges.Has(v) || known(v)) continue;
    if (wordPage[k] >= addrs.size()) throw Napi::RangeError::New(env, "bornTargets: a word's page is out of range");
    if (wordPage[k] != lastPage) lastPage = wordPage[k], pageKnown = known(addrs[lastPage]);
    if (pageKnown) continue;
    if (targets.insert(v).second) out.push_back(v);
  }
  return Sorted(env, std::move(out));
}

}  // namespace

void InitPointed(Napi::Env env, Napi::Object exports) {
  exports.Set("pointedPages", Napi::Function::New(env, PointedPages));
  exports.Set("bornTargets", Napi::Function::New(env, BornTargets));
}

}  // namespace cowscope
