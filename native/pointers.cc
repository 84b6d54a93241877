// Conservative pointer scans of a process's memory: which words hold one of a set of addresses. Blame
// uses it to find the owner of a malloc chunk (the object slot, or the chunk, that points to it) when no
// structure walk names one.

#include <napi.h>

#include "common.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace cowscope {
namespace {

// At most this many hits are returned: a scan's memory stays bounded however many words match.
constexpr size_t kMaxHits = size_t{1} << 22;
constexpr size_t kBlock = size_t{1} << 20;

struct Hits {
  std::vector<uint32_t> target;
  std::vector<uint64_t> at;
  bool truncated = false;
};

// Reads [start, end) of /proc/PID/mem in blocks; a block the kernel cannot read (unmapped, guard) is
// skipped. Every 8-byte aligned word equal to a target is a hit.
void Scan(int pid, const std::vector<uint64_t>& starts, const std::vector<uint64_t>& ends, const std::vector<uint64_t>& targets, Hits& hits) {
  Fd mem(ProcPath(pid, "mem"));
  if (targets.empty()) return;
  const uint64_t lo = targets.front();
  const uint64_t hi = targets.back();
  // Most words in range are no target (a GC heap holds pointers everywhere into [heap]): with aligned
  // targets in a span of up to 1 GiB, a bit per 8 bytes of the span tells at once, and only hits are
  // searched (a binary search per word in range is what the scan cost).
  std::vector<uint64_t> bits;
  const bool aligned = std::all_of(targets.begin(), targets.end(), [](uint64_t t) { return t % 8 == 0; });
  if (aligned && hi - lo <= (uint64_t{1} << 30)) {
    bits.assign(((hi - lo) / 8) / 64 + 1, 0);
    for (uint64_t t : targets) bits[((t - lo) / 8) / 64] |= uint64_t{1} << (((t - lo) / 8) % 64);
  }
  const auto maybe = [&](uint64_t w) {
    if (w < lo || w > hi) return false;
    if (bits.empty()) return true;
    if (w % 8) return false;
    const uint64_t k = (w - lo) / 8;
    return ((bits[k / 64] >> (k % 64)) & 1) != 0;
  };
  std::vector<uint64_t> buf(kBlock / 8);
  // The hits among n words read at address at; false once the hits are full.
  const auto scanWords = [&](const uint64_t* words, size_t n, uint64_t at) {
    for (size_t i = 0; i < n; i++) {
      const uint64_t w = words[i];
      if (!maybe(w)) continue;
      const auto it = std::lower_bound(targets.begin(), targets.end(), w);
      if (it == targets.end() || *it != w) continue;
      if (hits.at.size() >= kMaxHits) {
        hits.truncated = true;
        return false;
      }
      hits.target.push_back(static_cast<uint32_t>(it - targets.begin()));
      hits.at.push_back(at + 8 * i);
    }
    return true;
  };
  // Reads [a, a + want) into buf (tapped; absent pages as zeros, not faulted in); false when the kernel
  // cannot read it.
  const auto readBlock = [&](uint64_t a, size_t want, size_t& got) {
    if (!ReadPresentRange(pid, mem, a, want, reinterpret_cast<uint8_t*>(buf.data()))) {
      if (TapOn()) TapRecord(pid, a, want, kTapRangeFailed, 0);
      return false;
    }
    got = want;
    if (TapOn()) TapRecord(pid, a, want, kTapRange, HashBytes(buf.data(), got, got));
    return true;
  };
  // One range: its aligned words, a block at a time.
  const auto scanRange = [&](size_t r) {
    for (uint64_t a = starts[r] & ~uint64_t{7}; a < ends[r]; a += kBlock) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kBlock, ends[r] - a)) & ~size_t{7};
      size_t got = 0;
      if (!readBlock(a, want, got)) continue;
      if (!scanWords(buf.data(), got / 8, a)) return false;
    }
    return true;
  };
  // Ranges a few bytes apart (the chunks of a heap) are read with one pread, when they come in order
  // and their words do not overlap: tens of thousands of small reads cost more than the bytes between
  // them. A block that cannot be read whole is read range by range.
  const auto wordsEnd = [&](size_t r) { return ends[r] > (starts[r] & ~uint64_t{7}) ? (starts[r] & ~uint64_t{7}) + ((ends[r] - (starts[r] & ~uint64_t{7})) & ~uint64_t{7}) : starts[r] & ~uint64_t{7}; };
  bool ordered = true;
  for (size_t r = 1; r < starts.size() && ordered; r++) ordered = (starts[r] & ~uint64_t{7}) >= wordsEnd(r - 1);
  constexpr uint64_t kGap = 4096;
  for (size_t r = 0; r < starts.size();) {
    size_t last = r;
    const uint64_t from = starts[r] & ~uint64_t{7};
    while (ordered && last + 1 < starts.size() && (starts[last + 1] & ~uint64_t{7}) - wordsEnd(last) < kGap && wordsEnd(last + 1) - from <= kBlock) last++;
    if (last == r) {
      if (!scanRange(r)) return;
      r++;
      continue;
    }
    size_t got = 0;
    const size_t want = static_cast<size_t>(wordsEnd(last) - from);
    if (readBlock(from, want, got) && got == want) {
      for (size_t q = r; q <= last; q++) {
        const uint64_t a = starts[q] & ~uint64_t{7};
        if (!scanWords(buf.data() + (a - from) / 8, (wordsEnd(q) - a) / 8, a)) return;
      }
    } else {
      for (size_t q = r; q <= last; q++)
        if (!scanRange(q)) return;
    }
    r = last + 1;
  }
}

// scanPointers(pid, starts, ends, targets) -> { target: Uint32Array, at: Float64Array, truncated }
// targets must be sorted ascending; target[i] indexes targets, at[i] is the address of the word.
Napi::Value ScanPointers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int pid = ArgPid(info, 0);
  const std::vector<uint64_t> starts = ToU64(ArgFloat64Array(info, 1, "starts"));
  const std::vector<uint64_t> ends = ToU64(ArgFloat64Array(info, 2, "ends"));
  const std::vector<uint64_t> targets = ToU64(ArgFloat64Array(info, 3, "targets"));
  if (starts.size() != ends.size()) throw Napi::RangeError::New(env, "starts and ends differ in length");
  if (!std::is_sorted(targets.begin(), targets.end())) throw Napi::RangeError::New(env, "targets must be sorted");
  Hits hits;
  Sync(env, [&] { Scan(pid, starts, ends, targets, hits); });
  Napi::Uint32Array target = Napi::Uint32Array::New(env, hits.target.size());
  Napi::Float64Array at = Napi::Float64Array::New(env, hits.at.size());
  for (size_t i = 0; i < hits.at.size(); i++) {
    target[i] = hits.target[i];
    at[i] = static_cast<double>(hits.at[i]);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("target", target);
  out.Set("at", at);
  out.Set("truncated", Napi::Boolean::New(env, hits.truncated));
  return out;
}

}  // namespace

void InitPointers(Napi::Env env, Napi::Object exports) { exports.Set("scanPointers", Napi::Function::New(env, ScanPointers)); }

}  // namespace cowscope
