// Page classification kernels: the exact tier's loops that analyzers/classify.ts runs over every page
// of every child, and the class counts of analyzers/sharing.ts (`inspect` of a 4 GiB family: millions of pages, each loop run once, cold). The rules
// stay in analyzers/classify.ts, which pairs the mappings and says what each verdict means; here each
// loop is the same per-page rule over the typed arrays, about five times faster than the same loop
// compiled by V8 within its first run.
//
// Runs are triples (child's first page index, paired page index or -1, count), as forEachRun lists
// them. Every index is checked against the arrays before a page is read.

#include <napi.h>

#include "classify.h"
#include "common.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>
#include <algorithm>

namespace cowscope {
namespace {

template <typename T>
T Arg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(info.Env(), std::string(what) + " has the wrong array type");
  return info[i].As<T>();
}

Side ArgSide(const Napi::CallbackInfo& info, size_t i, const char* what) {
  auto flags = Arg<Napi::Uint16Array>(info, i, napi_uint16_array, what);
  auto pfn = Arg<Napi::Float64Array>(info, i + 1, napi_float64_array, what);
  if (flags.ElementLength() != pfn.ElementLength()) throw Napi::RangeError::New(info.Env(), std::string(what) + ": flags and pfn differ in length");
  return {flags.Data(), pfn.Data(), flags.ElementLength(), 0};
}

// Calls fn(c0, r0, n) for each run, after checking that it lies inside both sides.
template <typename F>
void ForRuns(Napi::Env env, const Napi::Float64Array& runs, size_t childPages, size_t refPages, F&& fn) {
  if (runs.ElementLength() % 3) throw Napi::RangeError::New(env, "runs must be (child index, paired index, count) triples");
  for (size_t k = 0; k < runs.ElementLength(); k += 3) {
    const double c0 = runs[k], r0 = runs[k + 1], n = runs[k + 2];
    if (!(c0 >= 0 && n >= 0 && c0 + n <= static_cast<double>(childPages) && (r0 == -1 || (r0 >= 0 && r0 + n <= static_cast<double>(refPages)))))
      throw Napi::RangeError::New(env, "a run lies outside the pages");
    fn(static_cast<size_t>(c0), static_cast<int64_t>(r0), static_cast<size_t>(n));
  }
}

// classifyExactRuns(classes, childFlags, childPfn, refFlags, refPfn, runs, zeroMask): fills classes for
// the pages of every run, by the rule of classifyExactRun in analyzers/classify.ts.
Napi::Value ClassifyExactRuns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto classes = Arg<Napi::Uint8Array>(info, 0, napi_uint8_array, "classes");
  const Side c = ArgSide(info, 1, "child");
  const Side r = ArgSide(info, 3, "reference");
  const Napi::Float64Array runs = ArgFloat64Array(info, 5, "runs");
  const uint16_t zeroMask = info.Length() > 6 && info[6].IsNumber() ? static_cast<uint16_t>(info[6].As<Napi::Number>().Uint32Value()) : 0;
  if (classes.ElementLength() != c.pages) throw Napi::RangeError::New(env, "classes and the child's pages differ in length");
  uint8_t* out = classes.Data();
  ForRuns(env, runs, c.pages, r.pages, [&](size_t c0, int64_t r0, size_t n) { ClassifyExactRange(out, c, r, c0, r0, n, zeroMask); });
  return env.Undefined();
}

// markSharedFrames(classes, childFlags, childPfn, siblingFlags, siblingPfn, runs) -> pages marked: a
// copied child page that the sibling maps at the same frame (both present, neither page cache) becomes
// copiedByParent, by the rule of markWrittenByParent in analyzers/classify.ts.
Napi::Value MarkSharedFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto classes = Arg<Napi::Uint8Array>(info, 0, napi_uint8_array, "classes");
  const Side c = ArgSide(info, 1, "child");
  const Side s = ArgSide(info, 3, "sibling");
  const Napi::Float64Array runs = ArgFloat64Array(info, 5, "runs");
  if (classes.ElementLength() != c.pages) throw Napi::RangeError::New(env, "classes and the child's pages differ in length");
  uint8_t* out = classes.Data();
  double marked = 0;
  ForRuns(env, runs, c.pages, s.pages, [&](size_t c0, int64_t s0, size_t n) {
    if (s0 >= 0) marked += static_cast<double>(MarkSharedFramesRange(out, c, s, c0, static_cast<size_t>(s0), n));
  });
  return Napi::Number::New(env, marked);
}

// Adds the class of each of n bytes to counts. Classes come in long runs (a mapping's pages mostly
// shared, or mostly absent), so 8 bytes of one class are counted at once; a mixed word byte by byte,
// into four tables in turn, so that equal neighbours do not wait on each other's increment.
void CountRange(const uint8_t* c, size_t n, uint64_t counts[8]) {
  uint64_t part[4][8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, c + i, 8);
    if (w == (c[i] & 0xffULL) * 0x0101010101010101ULL && c[i] < 8) {
      part[0][c[i]] += 8;
      continue;
    }
    for (size_t j = 0; j < 8; j++) part[j & 3][c[i + j] & 7]++;
  }
  for (; i < n; i++) part[0][c[i] & 7]++;
  for (size_t j = 0; j < 8; j++) counts[j] += part[0][j] + part[1][j] + part[2][j] + part[3][j];
}

// countClassRanges(classes, ranges) -> Float64Array: for each [from, to) pair of ranges, how many pages
// of each class (8 counts per range, indexed by class code), as countClasses in analyzers/sharing.ts.
Napi::Value CountClassRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto classes = Arg<Napi::Uint8Array>(info, 0, napi_uint8_array, "classes");
  const Napi::Float64Array ranges = ArgFloat64Array(info, 1, "ranges");
  if (ranges.ElementLength() % 2) throw Napi::RangeError::New(env, "ranges must be (from, to) pairs");
  const size_t n = classes.ElementLength();
  const uint8_t* c = classes.Data();
  Napi::Float64Array out = Napi::Float64Array::New(env, ranges.ElementLength() / 2 * 8);
  for (size_t k = 0; k < ranges.ElementLength(); k += 2) {
    const double from = ranges[k], to = ranges[k + 1];
    if (!(from >= 0 && from <= to && to <= static_cast<double>(n))) throw Napi::RangeError::New(env, "a range lies outside the pages");
    uint64_t counts[8] = {};
    CountRange(c + static_cast<size_t>(from), static_cast<size_t>(to - from), counts);
    for (size_t j = 0; j < 8; j++) out[k / 2 * 8 + j] = static_cast<double>(counts[j]);
  }
  return out;
}

// sharedNewPages(classes, flags) -> Uint32Array: the pages classed new that are present, anonymous and
// not exclusive (bit 56 clear: another mapping holds the frame), in page order: what markMovedShared in
// analyzers/classify.ts looks up. A child's new pages are few and its own: memchr passes over the rest.
Napi::Value SharedNewPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto classes = Arg<Napi::Uint8Array>(info, 0, napi_uint8_array, "classes");
  auto flags = Arg<Napi::Uint16Array>(info, 1, napi_uint16_array, "flags");
  const size_t n = classes.ElementLength();
  if (flags.ElementLength() != n) throw Napi::RangeError::New(env, "classes and flags differ in length");
  const uint8_t* c = classes.Data();
  const uint16_t* f = flags.Data();
  std::vector<uint32_t> found;
  for (const uint8_t* p = c; (p = static_cast<const uint8_t*>(memchr(p, kNew, n - static_cast<size_t>(p - c)))); p++) {
    const size_t i = static_cast<size_t>(p - c);
    if ((f[i] & (F_PRESENT | F_EXCLUSIVE | F_FILE)) == F_PRESENT) found.push_back(static_cast<uint32_t>(i));
    if (i + 1 == n) break;
  }
  Napi::Uint32Array out = Napi::Uint32Array::New(env, found.size());
  std::copy(found.begin(), found.end(), out.Data());
  return out;
}

}  // namespace

void InitClassify(Napi::Env env, Napi::Object exports) {
  exports.Set("sharedNewPages", Napi::Function::New(env, SharedNewPages));
  exports.Set("classifyExactRuns", Napi::Function::New(env, ClassifyExactRuns));
  exports.Set("markSharedFrames", Napi::Function::New(env, MarkSharedFrames));
  exports.Set("countClassRanges", Napi::Function::New(env, CountClassRanges));
  Napi::Object codes = Napi::Object::New(env);
  const std::pair<const char*, uint8_t> kCodes[] = {{"none", kNone}, {"shared", kShared},   {"copied", kCopied},   {"copiedByParent", kCopiedByParent},
                                                    {"new", kNew},   {"absent", kAbsent}, {"swapped", kSwapped}, {"zero", kZero}};
  for (const auto& [name, code] : kCodes) codes.Set(name, Napi::Number::New(env, code));
  exports.Set("pageClassCodes", codes);
}

}  // namespace cowscope
