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

// Sorted, disjoint ranges [start, end).
class Ranges {
 public:
  Ranges(std::vector<uint64_t> start, std::vector<uint64_t> end) {
    std::vector<size_t> order(start.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return start[a] < start[b]; });
    for (size_t i : order) start_.push_back(start[i]), end_.push_back(end[i]);
  }
  bool Has(uint64_t a) const {
    const auto it = std::upper_bound(start_.begin(), start_.end(), a);
    if (it == start_.begin()) return false;
    return a < end_[it - start_.begin() - 1];
  }

 private:
  std::vector<uint64_t> start_, end_;
};

std::vector<uint64_t> BigWords(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array)
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a BigUint64Array");
  Napi::BigUint64Array a = info[i].As<Napi::BigUint64Array>();
  return std::vector<uint64_t>(a.Data(), a.Data() + a.ElementLength());
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
// first found, the lists in order), sorted.
Napi::Value PointedPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "pointedPages(words[], starts, ends, pageSize, pages, max)");
  const Ranges ranges(ToU64(ArgFloat64Array(info, 1, "starts")), ToU64(ArgFloat64Array(info, 2, "ends")));
  const uint64_t ps = static_cast<uint64_t>(ArgNumber(info, 3, "pageSize"));
  std::vector<uint64_t> pages = ToU64(ArgFloat64Array(info, 4, "pages"));
  const double max = ArgNumber(info, 5, "max");
  std::unordered_set<uint64_t> seen(pages.begin(), pages.end());
  size_t added = 0;
  Napi::Array lists = info[0].As<Napi::Array>();
  for (uint32_t l = 0; l < lists.Length(); l++) {
    Napi::Value v = lists.Get(l);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array) throw Napi::TypeError::New(env, "words must be BigUint64Arrays");
    Napi::BigUint64Array words = v.As<Napi::BigUint64Array>();
    const uint64_t* w = words.Data();
    for (size_t k = 0; k < words.ElementLength() && added < max; k++) {
      if (w[k] % 8 || w[k] >= kMaxAddress || !ranges.Has(w[k])) continue;
      const uint64_t page = w[k] - w[k] % ps;
      if (seen.insert(page).second) {
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
  const std::vector<uint64_t> words = BigWords(info, 0, "newWord");
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "wordPage must be a Uint32Array");
  Napi::Uint32Array wordPage = info[1].As<Napi::Uint32Array>();
  const std::vector<uint64_t> addrs = ToU64(ArgFloat64Array(info, 2, "addrs"));
  const std::vector<uint64_t> bodies = ToU64(ArgFloat64Array(info, 3, "bodies"));
  const uint64_t bodySize = static_cast<uint64_t>(ArgNumber(info, 4, "bodySize"));
  const Ranges ranges(ToU64(ArgFloat64Array(info, 5, "starts")), ToU64(ArgFloat64Array(info, 6, "ends")));
  const double max = ArgNumber(info, 7, "max");
  if (wordPage.ElementLength() != words.size() || !bodySize) throw Napi::RangeError::New(env, "bornTargets: one page per word, a body size");
  const auto known = [&](uint64_t a) { return std::binary_search(bodies.begin(), bodies.end(), a - a % bodySize); };
  std::unordered_set<uint64_t> targets;
  std::vector<uint64_t> out;
  for (size_t k = 0; k < words.size() && targets.size() < max; k++) {
    const uint64_t v = words[k];
    if (v % 8 || v < 0x10000 || v >= kMaxAddress) continue;
    if (wordPage[k] >= addrs.size()) throw Napi::RangeError::New(env, "bornTargets: a word's page is out of range");
    if (known(addrs[wordPage[k]]) || known(v) || !ranges.Has(v)) continue;
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
