// Read taps: what memory a computation read, so that its result can be reused while that memory holds
// the same bytes (`inspect --watch` rediscovers nothing on an unchanged master and idle workers).
//
// While a tap is open, every page the readers of this addon read through /proc/PID/mem (readWords,
// readPages, walkMallocChunks: whole pages, after the pagemap said present) and every block a pointer
// scan read is recorded with a hash of the bytes exactly as the reader saw them — not re-read afterwards,
// so a write between the computation's read and the record cannot slip in. `readsUnchangedAsync` reads the
// same pages and blocks the same way again and compares: a deterministic computation whose every read
// returns the same bytes (and the same present / unreadable verdicts) computes the same result.
//
// The hash is 64 bits, not cryptographic: an accidental change goes unnoticed with probability 2^-64 per
// page. A process could craft a collision to hide a change from the reuse, as it could lie in its heap map.

#include <napi.h>

#include "common.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <tuple>
#include <vector>

namespace cowscope {

namespace {

struct TapEntry {
  int pid;
  uint64_t addr;
  uint64_t len;
  uint8_t kind;
  uint64_t hash;
  bool operator<(const TapEntry& o) const { return std::tie(pid, addr, len, kind, hash) < std::tie(o.pid, o.addr, o.len, o.kind, o.hash); }
  bool operator==(const TapEntry& o) const { return pid == o.pid && addr == o.addr && len == o.len && kind == o.kind && hash == o.hash; }
};

std::mutex g_tapMutex;
bool g_tapOn = false;
std::vector<TapEntry> g_tap;

inline uint64_t Mum(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

constexpr uint64_t kP0 = 0xa0761d6478bd642fULL, kP1 = 0xe7037ed1a0b428dbULL, kP2 = 0x8ebc6af09c88c6e3ULL, kP3 = 0x589965cc75374cc3ULL;

}  // namespace

uint64_t HashBytes(const void* data, size_t n, uint64_t seed) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed ^ Mum(n ^ kP0, kP1);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint64_t a, b;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, 8);
    h = Mum(a ^ kP1 ^ h, b ^ kP2) + (h ^ kP3);  // the running h is added back: a zero product loses nothing
  }
  uint64_t tail[2] = {0, 0};
  memcpy(tail, p + i, n - i);
  h = Mum(tail[0] ^ kP1 ^ h, tail[1] ^ kP2) + (h ^ kP3);
  return Mum(h ^ kP0, n ^ kP3);
}

bool TapOn() { return g_tapOn; }

void TapRecord(int pid, uint64_t addr, uint64_t len, uint8_t kind, uint64_t hash) {
  std::lock_guard<std::mutex> lock(g_tapMutex);
  if (g_tapOn) g_tap.push_back({pid, addr, len, kind, hash});
}

namespace {

// startReadTap(): opens the tap (and forgets any earlier record).
Napi::Value StartReadTap(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_tapMutex);
  g_tap.clear();
  g_tapOn = true;
  return info.Env().Undefined();
}

// stopReadTap() -> { pid: Int32Array, addr, len: Float64Array, kind: Uint8Array, hash: BigUint64Array,
// conflicted }: every distinct read, sorted; conflicted when one page, or one block, was read twice with
// different bytes (it changed under the computation, whose result must not be reused).
Napi::Value StopReadTap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<TapEntry> t;
  {
    std::lock_guard<std::mutex> lock(g_tapMutex);
    g_tapOn = false;
    t.swap(g_tap);
  }
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  // A page read and a scan block that happen to span the same bytes are two reads, each checked its own
  // way (their hashes differ by construction): only two reads of one kind can conflict.
  const auto isBlock = [](uint8_t kind) { return kind == kTapRange || kind == kTapRangeFailed; };
  bool conflicted = false;
  for (size_t i = 1; i < t.size(); i++)
    if (t[i].pid == t[i - 1].pid && t[i].addr == t[i - 1].addr && t[i].len == t[i - 1].len && isBlock(t[i].kind) == isBlock(t[i - 1].kind)) conflicted = true;
  Napi::Int32Array pid = Napi::Int32Array::New(env, t.size());
  Napi::Float64Array addr = Napi::Float64Array::New(env, t.size());
  Napi::Float64Array len = Napi::Float64Array::New(env, t.size());
  Napi::Uint8Array kind = Napi::Uint8Array::New(env, t.size());
  Napi::BigUint64Array hash = Napi::BigUint64Array::New(env, t.size());
  for (size_t i = 0; i < t.size(); i++) {
    pid[i] = t[i].pid;
    addr[i] = static_cast<double>(t[i].addr);
    len[i] = static_cast<double>(t[i].len);
    kind[i] = t[i].kind;
    hash[i] = t[i].hash;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", pid);
  out.Set("addr", addr);
  out.Set("len", len);
  out.Set("kind", kind);
  out.Set("hash", hash);
  out.Set("conflicted", Napi::Boolean::New(env, conflicted));
  return out;
}

// Does every read of the tap (entries [from, to) of one pid) give what it gave? Pages are read as the
// page readers read them (pagemap first, then the present ones); blocks as the pointer scan reads them.
bool PidReadsUnchanged(int pid, const uint64_t* addr, const uint64_t* len, const uint8_t* kind, const uint64_t* hash, size_t n) {
  const size_t ps = PageSize();
  std::vector<uint64_t> pages;
  std::vector<size_t> pageEntry;
  for (size_t i = 0; i < n; i++) {
    if (kind[i] == kTapRange || kind[i] == kTapRangeFailed) continue;
    pages.push_back(addr[i]);
    pageEntry.push_back(i);
  }
  if (!pages.empty()) {
    const std::vector<uint8_t> present = PresentMaskOf(pid, pages);
    std::vector<uint8_t> status(pages.size(), 0);
    // in batches: memory stays bounded however many pages the computation read
    constexpr size_t kBatch = 1024;
    std::vector<uint8_t> buf(kBatch * ps);
    for (size_t b = 0; b < pages.size(); b += kBatch) {
      const size_t m = std::min(kBatch, pages.size() - b);
      std::vector<uint64_t> sub(pages.begin() + b, pages.begin() + b + m);
      std::vector<uint8_t> want(present.begin() + b, present.begin() + b + m);
      std::vector<uint8_t> st(m, 0);
      ReadPresentPages(pid, sub, want, buf.data(), st, /*tap=*/false);
      for (size_t k = 0; k < m; k++) {
        const size_t e = pageEntry[b + k];
        const uint8_t now = !want[k] ? kTapAbsent : st[k] != 0 ? kTapUnreadable : kTapPage;
        if (now != kind[e]) return false;
        if (now == kTapPage && HashBytes(buf.data() + k * ps, ps, 0) != hash[e]) return false;
      }
    }
  }
  std::vector<uint8_t> block;
  for (size_t i = 0; i < n; i++) {
    if (kind[i] != kTapRange && kind[i] != kTapRangeFailed) continue;
    Fd mem(ProcPath(pid, "mem"), std::nothrow);
    if (!mem.ok()) return false;
    block.resize(len[i]);
    // read as the scan read it: present pages only
    const bool failed = !ReadPresentRange(pid, mem, addr[i], len[i], block.data());
    if (failed != (kind[i] == kTapRangeFailed)) return false;
    if (!failed && HashBytes(block.data(), len[i], len[i]) != hash[i]) return false;
  }
  return true;
}

// Checks the reads of one process on the libuv thread pool (the processes of a family at once).
// A read that fails outright (the process is gone) answers false: the computation runs afresh.
class VerifyWorker : public Napi::AsyncWorker {
 public:
  VerifyWorker(Napi::Env env, int pid, std::vector<uint64_t> addr, std::vector<uint64_t> len, std::vector<uint8_t> kind, std::vector<uint64_t> hash)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), pid_(pid), addr_(std::move(addr)), len_(std::move(len)), kind_(std::move(kind)), hash_(std::move(hash)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      same_ = PidReadsUnchanged(pid_, addr_.data(), len_.data(), kind_.data(), hash_.data(), addr_.size());
    } catch (const SysError&) {
      same_ = false;
    }
  }
  void OnOK() override { deferred_.Resolve(Napi::Boolean::New(Env(), same_)); }

 private:
  Napi::Promise::Deferred deferred_;
  int pid_;
  std::vector<uint64_t> addr_, len_;
  std::vector<uint8_t> kind_;
  std::vector<uint64_t> hash_;
  bool same_ = false;
};

// processReadsUnchangedAsync(pid, addr, len, kind, hash) -> Promise<boolean>: the reads of one process
Napi::Value ProcessReadsUnchangedAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int pid = ArgPid(info, 0);
  std::vector<uint64_t> addr = ToU64(ArgFloat64Array(info, 1, "addr"));
  std::vector<uint64_t> len = ToU64(ArgFloat64Array(info, 2, "len"));
  if (info.Length() < 5 || !info[3].IsTypedArray() || !info[4].IsTypedArray()) throw Napi::TypeError::New(env, "processReadsUnchangedAsync(pid, addr, len, kind, hash)");
  Napi::Uint8Array k = info[3].As<Napi::Uint8Array>();
  Napi::BigUint64Array h = info[4].As<Napi::BigUint64Array>();
  if (len.size() != addr.size() || k.ElementLength() != addr.size() || h.ElementLength() != addr.size()) throw Napi::RangeError::New(env, "tap columns differ in length");
  std::vector<uint8_t> kind(k.Data(), k.Data() + addr.size());
  std::vector<uint64_t> hash(h.Data(), h.Data() + addr.size());
  auto* worker = new VerifyWorker(env, pid, std::move(addr), std::move(len), std::move(kind), std::move(hash));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// hashViews([view, ...]) -> BigInt: one hash of the bytes of typed arrays (a key from large inputs).
Napi::Value HashViews(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "hashViews([views])");
  Napi::Array views = info[0].As<Napi::Array>();
  uint64_t h = kP2;
  for (uint32_t i = 0; i < views.Length(); i++) {
    Napi::Value v = views.Get(i);
    if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "hashViews: every view must be a typed array");
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    const uint8_t* p = static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
    h = HashBytes(p, a.ByteLength(), h + i);
  }
  return Napi::BigInt::New(env, h);
}

}  // namespace

void InitReuse(Napi::Env env, Napi::Object exports) {
  exports.Set("startReadTap", Napi::Function::New(env, StartReadTap));
  exports.Set("stopReadTap", Napi::Function::New(env, StopReadTap));
  exports.Set("processReadsUnchangedAsync", Napi::Function::New(env, ProcessReadsUnchangedAsync));
  exports.Set("hashViews", Napi::Function::New(env, HashViews));
}

}  // namespace cowscope
