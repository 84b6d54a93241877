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
  std::vector<uint64_t> buf(kBlock / 8);
  for (size_t r = 0; r < starts.size(); r++) {
    for (uint64_t a = starts[r] & ~uint64_t{7}; a < ends[r]; a += kBlock) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kBlock, ends[r] - a)) & ~size_t{7};
      size_t got = 0;
      try {
        got = PreadFull(mem, buf.data(), want, a);
      } catch (const SysError& e) {
        if (e.err != EIO && e.err != EFAULT) throw;
        if (TapOn()) TapRecord(pid, a, want, kTapRangeFailed, 0);
        continue;
      }
      if (TapOn()) TapRecord(pid, a, want, kTapRange, HashBytes(buf.data(), got, got));
      for (size_t i = 0; i < got / 8; i++) {
        const uint64_t w = buf[i];
        if (w < lo || w > hi) continue;
        const auto it = std::lower_bound(targets.begin(), targets.end(), w);
        if (it == targets.end() || *it != w) continue;
        if (hits.at.size() >= kMaxHits) {
          hits.truncated = true;
          return;
        }
        hits.target.push_back(static_cast<uint32_t>(it - targets.begin()));
        hits.at.push_back(a + 8 * i);
      }
    }
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
