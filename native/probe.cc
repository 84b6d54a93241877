// cowscope native probe: the thin C++ edge between the kernel's per-page interfaces and JavaScript.
//
// Everything per page happens here, in batches, and crosses into JS as typed arrays. The probe knows
// nothing about runtimes or causes: it reads pagemap, kpagecount/kpageflags and memory, and compares
// pages. Errors become JS exceptions carrying errno, code, syscall and path; native/probe.ts adds the
// hint that names the fix.
//
// Kernel facts used here are in docs/kernel.md (pagemap layout, kpagecount/kpageflags, PAGEMAP_SCAN,
// read sizes, and why only present pages are read).

#include <napi.h>
#include <uv.h>

#include "classify.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <new>
#include <cstdint>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using namespace cowscope;

// ---- pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst); not in uapi headers ----
constexpr uint64_t PM_PFN_MASK = (1ULL << 55) - 1;
constexpr uint64_t PM_SOFT_DIRTY = 1ULL << 55;
constexpr uint64_t PM_EXCLUSIVE = 1ULL << 56;
constexpr uint64_t PM_UFFD_WP = 1ULL << 57;
constexpr uint64_t PM_GUARD = 1ULL << 58;
constexpr uint64_t PM_FILE = 1ULL << 61;
constexpr uint64_t PM_SWAP = 1ULL << 62;
constexpr uint64_t PM_PRESENT = 1ULL << 63;

// ---- PAGEMAP_SCAN (6.7+): Debian 12's headers predate it, so define it here ----
struct PageRegion {
  uint64_t start, end, categories;
};
struct PmScanArg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask,
      category_anyof_mask, return_mask;
};
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);
constexpr uint64_t PAGE_IS_PRESENT = 1 << 3;
constexpr uint64_t PAGE_IS_PFNZERO = 1 << 5;
constexpr uint64_t PAGE_IS_HUGE = 1 << 6;

// Read size from the reference's measurements: 2 MiB of pagemap per pread.
constexpr size_t kPagemapChunkEntries = 256 * 1024;



uint16_t DecodeFlags(uint64_t e) {
  uint16_t f = 0;
  if (e & PM_PRESENT) f |= F_PRESENT;
  // A guard marker also sets bit 62 (§4.7): it is not swap.
  if (e & PM_GUARD) f |= F_GUARD;
  else if (e & PM_SWAP) f |= F_SWAPPED;
  if (e & PM_EXCLUSIVE) f |= F_EXCLUSIVE;
  if (e & PM_FILE) f |= F_FILE;
  if (e & PM_SOFT_DIRTY) f |= F_SOFT_DIRTY;
  if (e & PM_UFFD_WP) f |= F_UFFD_WP;
  return f;
}

// Every flag DecodeFlags reads lies in bits 55-63 of an entry: its flags for each of the 512 values of
// those bits, looked up instead of tested bit by bit (a 4 GiB family is 4 million entries).
constexpr int kFlagShift = 55;
struct FlagTable {
  uint16_t of[1 << (64 - kFlagShift)];
  FlagTable() {
    for (uint64_t v = 0; v < (1 << (64 - kFlagShift)); v++) of[v] = DecodeFlags(v << kFlagShift);
  }
};
const FlagTable kFlagTable;

// Decodes n pagemap entries into the flags and PFN columns; pages on the zero page's frame (zeroPfn,
// when known) get F_ZERO.
void DecodeEntries(const uint64_t* e, size_t n, uint16_t* f, double* p, uint64_t zeroPfn) {
  for (size_t i = 0; i < n; i++) {
    const uint64_t frame = e[i] & PM_PFN_MASK;
    const bool zero = zeroPfn && frame == zeroPfn && (e[i] & PM_PRESENT);
    f[i] = kFlagTable.of[e[i] >> kFlagShift] | (zero ? F_ZERO : 0);
    p[i] = static_cast<double>(frame);
  }
}

// Marks zero-page and huge pages over [start, end) with PAGEMAP_SCAN, the regions found going through
// vec (reused by a caller that scans many windows). Returns false when the kernel has no PAGEMAP_SCAN
// (EINVAL/ENOTTY); throws on other errors.
bool ScanZeroAndHuge(const Fd& fd, uint64_t start, uint64_t end, uint16_t* flags, std::vector<PageRegion>& vec) {
  const size_t ps = PageSize();
  uint64_t cursor = start;
  while (cursor < end) {
    PmScanArg arg{};
    arg.size = sizeof(arg);
    arg.start = cursor;
    arg.end = end;
    arg.vec = reinterpret_cast<uint64_t>(vec.data());
    arg.vec_len = vec.size();
    arg.category_anyof_mask = PAGE_IS_PFNZERO | PAGE_IS_HUGE;
    arg.return_mask = PAGE_IS_PFNZERO | PAGE_IS_HUGE;
    long n = ioctl(fd.get(), kPagemapScan, &arg);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL || errno == ENOTTY) return false;
      throw SysError{errno, "ioctl(PAGEMAP_SCAN)", fd.path()};
    }
    for (long i = 0; i < n; i++) {
      uint16_t add = 0;
      if (vec[i].categories & PAGE_IS_PFNZERO) add |= F_ZERO;
      if (vec[i].categories & PAGE_IS_HUGE) add |= F_HUGE;
      for (uint64_t a = vec[i].start; a < vec[i].end; a += ps) flags[(a - start) / ps] |= add;
    }
    if (arg.walk_end <= cursor) break;  // no progress: the range is done or unmapped
    cursor = arg.walk_end;
  }
  return true;
}

bool ScanZeroAndHuge(const Fd& fd, uint64_t start, uint64_t end, uint16_t* flags) {
  std::vector<PageRegion> vec(4096);
  return ScanZeroAndHuge(fd, start, end, flags, vec);
}

// Where the pagemap of a set of page-aligned ranges goes: one entry per page, ranges concatenated in
// order. The arrays are the JS typed arrays themselves, so nothing is copied after the read.
struct PagemapOut {
  uint16_t* flags;
  double* pfn;            // bits 0-54: the PFN when present (0 without CAP_SYS_ADMIN), the swap entry when swapped
  bool zeroScan = false;  // PAGEMAP_SCAN ran over every range, so F_ZERO and F_HUGE are meaningful
  bool isShort = false;   // EOF came early: the process exited (or exec'd) during the read
};

struct PagemapArgs {
  int pid;
  std::vector<uint64_t> starts, ends;
  bool scanZero;
  uint64_t zeroPfn;  // when not 0, the zero page's frame: pages on it get F_ZERO without a PAGEMAP_SCAN pass
  size_t total;      // pages in all ranges
};

// Safe on any thread: touches no JS value, only the memory `out` points to.
void ReadPagemapCore(const PagemapArgs& a, PagemapOut& out) {
  const size_t ps = PageSize();
  Fd fd(ProcPath(a.pid, "pagemap"));
  out.zeroScan = a.scanZero;
  std::vector<uint64_t> buf(std::min(a.total, kPagemapChunkEntries) + 1);
  size_t at = 0;
  for (size_t r = 0; r < a.starts.size(); r++) {
    const size_t pages = (a.ends[r] - a.starts[r]) / ps;
    for (size_t done = 0; done < pages;) {
      const size_t want = std::min(pages - done, kPagemapChunkEntries);
      const uint64_t off = (a.starts[r] / ps + done) * sizeof(uint64_t);
      const size_t got = PreadFull(fd, buf.data(), want * sizeof(uint64_t), off) / sizeof(uint64_t);
      DecodeEntries(buf.data(), got, out.flags + at + done, out.pfn + at + done, a.zeroPfn);
      if (got < want) {  // the rest stays zero (typed arrays start zeroed)
        out.isShort = true;
        break;
      }
      done += want;
    }
    if (out.zeroScan && pages) out.zeroScan = ScanZeroAndHuge(fd, a.starts[r], a.ends[r], out.flags + at);
    at += pages;
  }
  if (a.scanZero && !out.zeroScan && !a.zeroPfn) {  // a partial scan must not be trusted: clear what it set
    for (size_t i = 0; i < a.total; i++) out.flags[i] &= static_cast<uint16_t>(~(F_ZERO | F_HUGE));
  }
}

PagemapArgs ParsePagemapArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PagemapArgs a{ArgPid(info, 0),
                ToU64(ArgFloat64Array(info, 1, "starts")),
                ToU64(ArgFloat64Array(info, 2, "ends")),
                info.Length() > 3 && info[3].ToBoolean(),
                info.Length() > 4 && info[4].IsNumber() ? static_cast<uint64_t>(info[4].As<Napi::Number>().DoubleValue()) : 0,
                0};
  if (a.starts.size() != a.ends.size()) throw Napi::RangeError::New(env, "starts and ends differ in length");
  const size_t ps = PageSize();
  for (size_t r = 0; r < a.starts.size(); r++) {
    if (a.starts[r] % ps || a.ends[r] % ps || a.ends[r] < a.starts[r])
      throw Napi::RangeError::New(env, "ranges must be page-aligned with start <= end");
    a.total += (a.ends[r] - a.starts[r]) / ps;
  }
  return a;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

// Column memory to be populated before the read writes it (PopulateColumns).
struct ColumnMemory {
  void* at;
  size_t bytes;
};
using Columns = std::vector<ColumnMemory>;

// Columns from this size on are mapped here, and populated in one call instead of faulted in page by page.
constexpr size_t kMappedColumnMin = 256 * 1024;

// Populates column memory (MADV_POPULATE_WRITE): the kernel allocates and zeroes the pages in one call,
// with no page fault per page. A fault is costly where the kernel runs virtualized: 40 MiB of columns
// (a 4 GiB family's) took 103 ms of faults against 48 ms populated, on the 2-CPU VM this was measured
// on. Where the kernel has no MADV_POPULATE_WRITE (before 5.14), the pages fault in as they are written.
void PopulateColumn(void* at, size_t bytes) { madvise(at, bytes, MADV_POPULATE_WRITE); }

// The k-th of n shares of every column, page-aligned: each thread of a read populates its own share.
void PopulateColumns(const Columns& columns, size_t k, size_t n) {
  const size_t ps = PageSize();
  for (const ColumnMemory& c : columns) {
    const size_t pages = (c.bytes + ps - 1) / ps;
    const size_t from = pages * k / n, to = pages * (k + 1) / n;
    if (to > from) PopulateColumn(static_cast<char*>(c.at) + from * ps, (to - from) * ps);
  }
}

// A zeroed buffer for a result column. Large ones are mapped here (anonymous) and given to JS as an
// external ArrayBuffer, unmapped when collected (V8 counts every backing store's bytes toward its next
// collection, external ones too); populated at once, or, with `later`, by the threads that read into it
// (PopulateColumns). Small pages on purpose (MADV_NOHUGEPAGE, whatever the THP mode): huge pages saved
// ~10-25 ms of page faults on a 4 GiB family, but where THP defrag asks for it a huge-page fault (or
// populate) may compact memory, migrating other processes' pages — the very frames whose numbers the
// exact tier is comparing while it reads them.
Napi::ArrayBuffer ColumnBuffer(Napi::Env env, size_t bytes, Columns* later = nullptr) {
  if (bytes < kMappedColumnMin) return Napi::ArrayBuffer::New(env, bytes);
  void* at = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (at == MAP_FAILED) return Napi::ArrayBuffer::New(env, bytes);  // V8's allocator says what is wrong, its way
  madvise(at, bytes, MADV_NOHUGEPAGE);
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(env, at, bytes, [bytes](Napi::Env, void* data) { munmap(data, bytes); });
  } catch (...) {
    munmap(at, bytes);
    throw;
  }
  if (later) later->push_back({at, bytes});
  else PopulateColumn(at, bytes);
  return buffer;
}

// The result object { flags: Uint16Array, pfn: Float64Array, zeroScan, short }, allocated up front.
// Without withPfn (a family read's compact child, FamilyPair), no PFN column: out.pfn stays null.
Napi::Object NewPagemapResult(Napi::Env env, size_t total, PagemapOut& out, bool withPfn = true, Columns* later = nullptr) {
  Napi::Uint16Array flags = Napi::Uint16Array::New(env, total, ColumnBuffer(env, total * sizeof(uint16_t), later), 0);
  out.flags = flags.Data();
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("flags", flags);
  if (withPfn) {
    Napi::Float64Array pfn = Napi::Float64Array::New(env, total, ColumnBuffer(env, total * sizeof(double), later), 0);
    out.pfn = pfn.Data();
    obj.Set("pfn", pfn);
  }
  return obj;
}

void SetPagemapStatus(Napi::Env env, Napi::Object obj, const PagemapOut& out) {
  obj.Set("zeroScan", Napi::Boolean::New(env, out.zeroScan));
  obj.Set("short", Napi::Boolean::New(env, out.isShort));
}

// readPagemap(pid, starts, ends, scanZero, zeroPfn) -> { flags: Uint16Array, pfn: Float64Array, zeroScan, short }
Napi::Value ReadPagemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PagemapArgs a = ParsePagemapArgs(info);
  PagemapOut out{};
  Napi::Object obj = NewPagemapResult(env, a.total, out);
  Sync(env, [&] { ReadPagemapCore(a, out); });
  SetPagemapStatus(env, obj, out);
  return obj;
}

// The same on the libuv thread pool, so the pagemaps of several processes are read at once. The typed
// arrays are made on the JS thread and held by a reference while the worker fills them.
class PagemapWorker : public Napi::AsyncWorker {
 public:
  PagemapWorker(Napi::Env env, PagemapArgs args)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), args_(std::move(args)) {
    result_ = Napi::Persistent(NewPagemapResult(env, args_.total, out_, true, &columns_));
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    PopulateColumns(columns_, 0, 1);
    try {
      ReadPagemapCore(args_, out_);
    } catch (const SysError& se) {
      error_ = se;
      SetError(se.Message());
    }
  }
  void OnOK() override {
    Napi::Object obj = result_.Value();
    SetPagemapStatus(Env(), obj, out_);
    deferred_.Resolve(obj);
  }
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), error_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  PagemapArgs args_;
  PagemapOut out_{};
  Columns columns_;
  Napi::ObjectReference result_;
  SysError error_{0, "", ""};
};

// readPagemapAsync(pid, starts, ends, scanZero, zeroPfn) -> Promise of the same result as readPagemap
Napi::Value ReadPagemapAsync(const Napi::CallbackInfo& info) {
  auto* worker = new PagemapWorker(info.Env(), ParsePagemapArgs(info));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// ---- a family's pagemaps, read together ----
//
// The pagemaps of a parent and its children are read in step: a window of addresses (kFamilyWindow
// pages) of every process, then the next window. Forked processes map mostly the same frames at the
// same addresses, and the kernel's cost per pagemap entry is mostly the cache misses on the frame's
// struct page: read in step, the first process's read brings them into the cache for the others
// (measured on a 4 GiB parent with 3 children: 20-35% less system time than one process after the
// other). The windows are dealt out to one thread per CPU (stripes), so the family is still read on
// every core. Each process keeps its own outcome: one that exits mid-read does not fail the others.
constexpr size_t kFamilyWindow = 4096;

struct FamilyMember {
  PagemapArgs args;
  PagemapOut out{};
  bool failed = false;
  SysError error{0, "", ""};
};

// The PFNs a stripe keeps of a compact child: page indexes and PFNs, and where each window's begin (the
// window's number, the entry it begins at). Reserved for an even share of the child's pages, so that
// most reads never grow them; pages of the reserve never written cost nothing.
struct KeptPfns {
  std::vector<uint32_t> index;
  std::vector<double> pfn;
  std::vector<std::pair<uint64_t, size_t>> windows;
};

// A child whose pages are classified against its parent as the family is read (the exact tier's rules,
// classify.h): each window of the child right after the window is read, on the stripes' threads, beside
// the other reads. Classified afterwards, the same work (10-15 ms for a 4 GiB parent with 3 children)
// ran on the JS thread alone once every read was done, with the other CPU idle. The runs are
// analyzers/classify.ts runsOf, of the child against the parent and against each sibling (pages at
// the same address), in the child's page order.
//
// A compact child gets no PFN column: its window's PFNs are decoded into a window-sized buffer,
// classified from there, and only those that differ from the parent's at the paired page (or, where
// no page is paired, that are not 0) are kept, as (index, PFN). The column is rebuilt from the
// parent's when something reads it (native/capture.ts): `inspect` reads none but to send a child's
// capture to a blame thread. A column is 8 bytes a
// page, all of them written: for 3 children of a 4 GiB parent, 6,000 fewer page faults, about 6 ms of
// the command's CPU time.
struct FamilyPair {
  size_t child = 0, reference = 0;  // member indexes
  std::vector<double> runs;
  struct Sibling {
    size_t member;
    std::vector<double> runs;
  };
  std::vector<Sibling> siblings;
  uint16_t zeroMask = 0;
  bool compact = false;
  uint8_t* classes = nullptr;  // one byte per child page: the JS Uint8Array handed back
  std::vector<KeptPfns> kept;  // compact: what each stripe kept, joined in window order at the end
};

// Where a stripe is in a list of runs: runs before it end before the stripe's current window.
struct RunCursor {
  size_t k = 0;
};

// Calls fn(c0, r0, n) for the parts of the runs (from the cursor on) that lie in child pages [from, to).
// Windows come in address order, so the cursor only moves forward.
template <typename F>
void RunsWithin(const std::vector<double>& runs, RunCursor& cur, size_t from, size_t to, F&& fn) {
  while (cur.k < runs.size() && static_cast<size_t>(runs[cur.k] + runs[cur.k + 2]) <= from) cur.k += 3;
  for (size_t k = cur.k; k < runs.size() && static_cast<size_t>(runs[k]) < to; k += 3) {
    const size_t c0 = static_cast<size_t>(runs[k]), n = static_cast<size_t>(runs[k + 2]);
    const size_t lo = std::max(c0, from), hi = std::min(c0 + n, to);
    if (hi <= lo) continue;
    const int64_t r0 = static_cast<int64_t>(runs[k + 1]);
    fn(lo, r0 < 0 ? r0 : r0 + static_cast<int64_t>(lo - c0), hi - lo);
  }
}

// Calls fn(c0, r0, n, covered) for every page of [from, to): the parts of the runs there (covered), and
// the pages no run covers (not covered, r0 = -1).
template <typename F>
void SegmentsWithin(const std::vector<double>& runs, RunCursor& cur, size_t from, size_t to, F&& fn) {
  size_t at = from;
  RunsWithin(runs, cur, from, to, [&](size_t c0, int64_t r0, size_t n) {
    if (c0 > at) fn(at, -1, c0 - at, false);
    fn(c0, r0, n, true);
    at = c0 + n;
  });
  if (at < to) fn(at, -1, to - at, false);
}

// What one stripe saw of each member (merged after the stripes join: no member state is shared).
struct StripeOutcome {
  // unscanned: the kernel refused PAGEMAP_SCAN on a window of the member (its F_ZERO and F_HUGE are not
  // to be trusted, nor any class computed from them)
  std::vector<char> failed, isShort, unscanned;
  std::vector<SysError> errors;
  // per pair: a compact child's PFNs kept from this stripe's windows
  std::vector<KeptPfns> kept;
  StripeOutcome(size_t n, size_t pairs) : failed(n, 0), isShort(n, 0), unscanned(n, 0), errors(n, SysError{0, "", ""}), kept(pairs) {}
};

// Reads the windows w with (w / window bytes) % stripes == stripe, of every member, and classifies the
// pairs' child pages in each window read.
void ReadFamilyStripe(std::vector<FamilyMember>& family, std::vector<FamilyPair>& pairs, size_t stripe, size_t stripes, StripeOutcome& st) {
  const size_t ps = PageSize();
  const uint64_t span = kFamilyWindow * ps;
  struct Cursor {
    std::unique_ptr<Fd> fd;
    size_t range = 0;   // index into the member's ranges
    uint64_t next = 0;  // next address to read (or skip) in that range
    size_t at = 0;      // page index of that range's first page in the output
    bool done = false;
  };
  std::vector<Cursor> cur(family.size());
  std::vector<uint64_t> buf(kFamilyWindow);
  std::vector<PageRegion> regions(1024);
  // per member: 1 once this stripe scanned a window of it, 2 once it checked the member outlived the scans
  std::vector<char> scanned(family.size(), 0);
  // per member, the page indexes [from, to) this stripe read in the current window
  std::vector<size_t> winFrom(family.size()), winTo(family.size());
  // per pair, where the stripe is in its runs against the parent, then against each sibling
  std::vector<std::vector<RunCursor>> runCur(pairs.size());
  for (size_t p = 0; p < pairs.size(); p++) runCur[p].resize(1 + pairs[p].siblings.size());
  // a compact child's PFNs of the current window (no column of its own)
  std::vector<std::vector<double>> windowPfn(family.size());
  for (const FamilyPair& pr : pairs)
    if (pr.compact) windowPfn[pr.child].assign(kFamilyWindow, 0);
  // a member's columns: its PFN column, or its window's PFNs (pages winFrom to winTo only)
  auto sideOf = [&](size_t m) {
    const bool column = windowPfn[m].empty();
    return Side{family[m].out.flags, column ? family[m].out.pfn : windowPfn[m].data(), family[m].args.total, column ? 0 : winFrom[m]};
  };
  // pages [i, i + n) of member m lie where its PFNs can be read (always, for a member with a column)
  auto readable = [&](size_t m, size_t i, size_t n) { return windowPfn[m].empty() || (i >= winFrom[m] && i + n <= winTo[m]); };
  // The page index of a member's next address (its output so far, when done).
  auto indexOf = [&](size_t m) {
    const Cursor& c = cur[m];
    const PagemapArgs& a = family[m].args;
    return c.done ? c.at : c.at + (c.next - a.starts[c.range]) / ps;
  };
  auto fail = [&](size_t m, const SysError& se) {
    st.failed[m] = 1;
    st.errors[m] = se;
    cur[m].done = true;
  };
  // Moves past finished ranges; marks the member done after its last range.
  auto settle = [&](size_t m) {
    const PagemapArgs& a = family[m].args;
    Cursor& c = cur[m];
    while (!c.done && c.next >= a.ends[c.range]) {
      c.at += (a.ends[c.range] - a.starts[c.range]) / ps;
      if (++c.range == a.starts.size()) c.done = true;
      else c.next = a.starts[c.range];
    }
  };
  for (size_t m = 0; m < family.size(); m++) {
    if (family[m].args.starts.empty()) {
      cur[m].done = true;
      continue;
    }
    try {
      cur[m].fd = std::make_unique<Fd>(ProcPath(family[m].args.pid, "pagemap"));
    } catch (const SysError& se) {
      fail(m, se);
      continue;
    }
    cur[m].next = family[m].args.starts[0];
    settle(m);
  }
  for (;;) {
    uint64_t lowest = UINT64_MAX;
    for (size_t m = 0; m < family.size(); m++)
      if (!cur[m].done) lowest = std::min(lowest, cur[m].next);
    if (lowest == UINT64_MAX) break;
    const uint64_t window = lowest / span * span, windowEnd = window + span;
    const bool mine = (window / span) % stripes == stripe;
    for (size_t m = 0; m < family.size(); m++) {
      const PagemapArgs& a = family[m].args;
      PagemapOut& out = family[m].out;
      Cursor& c = cur[m];
      winFrom[m] = indexOf(m);
      while (!c.done && c.next < windowEnd) {
        const uint64_t to = std::min<uint64_t>(a.ends[c.range], windowEnd);
        if (mine) {
          const size_t want = (to - c.next) / ps;
          const size_t index = c.at + (c.next - a.starts[c.range]) / ps;
          size_t got;
          try {
            got = PreadFull(*c.fd, buf.data(), want * sizeof(uint64_t), c.next / ps * sizeof(uint64_t)) / sizeof(uint64_t);
            DecodeEntries(buf.data(), got, out.flags + index, windowPfn[m].empty() ? out.pfn + index : windowPfn[m].data() + (index - winFrom[m]), a.zeroPfn);
            // Zero and huge pages (the exclusive-bit tier, and the exact tier where read faults map no
            // zero page to learn its frame from): marked here, window by window, so that the window's
            // flags are final when its pages are classified below.
            if (got == want && a.scanZero && !st.unscanned[m]) {
              if (!ScanZeroAndHuge(*c.fd, c.next, to, out.flags + index, regions)) st.unscanned[m] = 1;
              scanned[m] = std::max<char>(scanned[m], 1);
            }
          } catch (const SysError& se) {
            fail(m, se);
            break;
          }
          if (got < want) {  // the process exited during the read: the rest stays zero
            st.isShort[m] = 1;
            c.done = true;
            break;
          }
        }
        c.next = to;
        settle(m);
      }
      // A scan of a process that exited after its window's read finds nothing (its mappings are gone),
      // and says so by no error: once the stripe has passed the member's last window, one more entry read
      // tells that it was still there after every scan this stripe made of it (EOF: it exited).
      if (c.done && scanned[m] == 1 && !st.failed[m] && !st.isShort[m]) {
        scanned[m] = 2;
        uint64_t entry;
        try {
          if (PreadFull(*c.fd, &entry, sizeof(entry), a.starts[0] / ps * sizeof(uint64_t)) == 0) st.isShort[m] = 1;
        } catch (const SysError& se) {
          fail(m, se);
        }
      }
      winTo[m] = std::max(winFrom[m], std::min(indexOf(m), a.total));
    }
    if (!mine) continue;
    // The window of every member is read: its child pages are classified against the same addresses of
    // the parent, then checked against the siblings (pages of a member that failed or was cut short
    // come out wrong here, and the caller drops that member and every pair it is in).
    for (size_t p = 0; p < pairs.size(); p++) {
      FamilyPair& pr = pairs[p];
      const size_t from = winFrom[pr.child], to = winTo[pr.child];
      if (to <= from) continue;
      const Side child = sideOf(pr.child), ref = sideOf(pr.reference);
      if (pr.compact) {
        // classified, and its PFNs that differ from the parent's kept, in one pass over the window
        KeptPfns& kept = st.kept[p];
        if (kept.index.capacity() == 0) {
          const size_t most = family[pr.child].args.total / stripes + kFamilyWindow;
          kept.index.reserve(most);
          kept.pfn.reserve(most);
        }
        kept.windows.emplace_back(window / span, kept.index.size());
        auto keep = [&](size_t i, double v) {
          kept.index.push_back(static_cast<uint32_t>(i));
          kept.pfn.push_back(v);
        };
        SegmentsWithin(pr.runs, runCur[p][0], from, to, [&](size_t c0, int64_t r0, size_t n, bool covered) {
          if (covered) ClassifyExactRange(pr.classes, child, ref, c0, r0, n, pr.zeroMask, keep);
          else
            for (size_t i = c0; i < c0 + n; i++)
              if (child.Pfn(i) != 0) keep(i, child.Pfn(i));
        });
      } else {
        RunsWithin(pr.runs, runCur[p][0], from, to, [&](size_t c0, int64_t r0, size_t n) { ClassifyExactRange(pr.classes, child, ref, c0, r0, n, pr.zeroMask); });
      }
      for (size_t k = 0; k < pr.siblings.size(); k++) {
        const size_t sm = pr.siblings[k].member;
        const Side sib = sideOf(sm);
        RunsWithin(pr.siblings[k].runs, runCur[p][k + 1], from, to, [&](size_t c0, int64_t s0, size_t n) {
          // (a compact sibling cut short has fewer pages in this window: its pair is dropped anyway)
          if (s0 >= 0 && readable(sm, static_cast<size_t>(s0), n)) MarkSharedFramesRange(pr.classes, child, sib, c0, static_cast<size_t>(s0), n);
        });
      }
    }
  }
}

void ReadFamilyPagemapsCore(std::vector<FamilyMember>& family, std::vector<FamilyPair>& pairs, const Columns& columns) {
  const size_t stripes = std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(), family.size()));
  std::vector<StripeOutcome> outcomes(stripes, StripeOutcome(family.size(), pairs.size()));
  std::vector<std::thread> threads;
  // Nothing may escape a thread (std::terminate): a stripe that cannot even allocate fails every member.
  auto run = [&](size_t k) {
    PopulateColumns(columns, k, stripes);
    try {
      ReadFamilyStripe(family, pairs, k, stripes, outcomes[k]);
    } catch (const std::exception&) {
      for (size_t m = 0; m < family.size(); m++) {
        outcomes[k].failed[m] = 1;
        outcomes[k].errors[m] = SysError{ENOMEM, "read", ProcPath(family[m].args.pid, "pagemap")};
      }
    }
  };
  for (size_t k = 1; k < stripes; k++) threads.emplace_back(run, k);
  run(0);
  for (std::thread& t : threads) t.join();
  for (size_t p = 0; p < pairs.size(); p++)
    if (pairs[p].compact)
      for (StripeOutcome& o : outcomes) pairs[p].kept.push_back(std::move(o.kept[p]));
  for (size_t m = 0; m < family.size(); m++) {
    FamilyMember& fm = family[m];
    fm.out.zeroScan = fm.args.scanZero;
    for (const StripeOutcome& o : outcomes) {
      if (o.failed[m] && !fm.failed) {
        fm.failed = true;
        fm.error = o.errors[m];
      }
      if (o.isShort[m]) fm.out.isShort = true;
      if (o.unscanned[m]) fm.out.zeroScan = false;
    }
    // A process cut short is left as it is: the caller drops it.
    if (fm.failed || fm.out.isShort) continue;
    if (fm.args.scanZero && !fm.out.zeroScan && !fm.args.zeroPfn)  // a partial scan must not be trusted: clear what it set
      for (size_t i = 0; i < fm.args.total; i++) fm.out.flags[i] &= static_cast<uint16_t>(~(F_ZERO | F_HUGE));
  }
}

// readFamilyPagemapsAsync(pids, starts[], ends[], scanZero, zeroPfn, pairs?) -> Promise of one entry per
// pid: the result of readPagemap, or { error } (an Error shaped like readPagemap's) for a process that
// could not be read. With pairs (exact tier), each pair's child result also has `classes`: its pages
// classified against its reference and marked against its siblings (FamilyPair).
class FamilyPagemapWorker : public Napi::AsyncWorker {
 public:
  FamilyPagemapWorker(Napi::Env env, std::vector<FamilyMember> family, std::vector<FamilyPair> pairs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), family_(std::move(family)), pairs_(std::move(pairs)) {
    Napi::Array results = Napi::Array::New(env, family_.size());
    std::vector<char> compact(family_.size(), 0);
    for (const FamilyPair& pr : pairs_)
      if (pr.compact) compact[pr.child] = 1;
    for (size_t m = 0; m < family_.size(); m++) results.Set(m, NewPagemapResult(env, family_[m].args.total, family_[m].out, !compact[m], &columns_));
    // a pair's classes ride on its child's result (dropped with it when the child's read fails)
    for (FamilyPair& pr : pairs_) {
      const size_t n = family_[pr.child].args.total;
      Napi::Uint8Array classes = Napi::Uint8Array::New(env, n, ColumnBuffer(env, n, &columns_), 0);
      pr.classes = classes.Data();
      results.Get(pr.child).As<Napi::Object>().Set("classes", classes);
    }
    results_ = Napi::Persistent(static_cast<Napi::Object>(results));
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { ReadFamilyPagemapsCore(family_, pairs_, columns_); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array results = results_.Value().As<Napi::Array>();
    // A compact child's kept PFNs, in page order: the stripes' windows taken in window order (each
    // stripe's own come in that order, and a window's pages follow the last window's).
    for (FamilyPair& pr : pairs_) {
      if (!pr.compact) continue;
      struct Part {
        uint64_t window;
        const KeptPfns* from;
        size_t begin, end;
      };
      std::vector<Part> parts;
      size_t count = 0;
      for (const KeptPfns& k : pr.kept) {
        count += k.index.size();
        for (size_t w = 0; w < k.windows.size(); w++)
          parts.push_back({k.windows[w].first, &k, k.windows[w].second, w + 1 < k.windows.size() ? k.windows[w + 1].second : k.index.size()});
      }
      std::sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.window < b.window; });
      Napi::Uint32Array index = Napi::Uint32Array::New(env, count);
      Napi::Float64Array pfn = Napi::Float64Array::New(env, count);
      size_t at = 0;
      for (const Part& part : parts) {
        std::copy(part.from->index.begin() + part.begin, part.from->index.begin() + part.end, index.Data() + at);
        std::copy(part.from->pfn.begin() + part.begin, part.from->pfn.begin() + part.end, pfn.Data() + at);
        at += part.end - part.begin;
      }
      std::vector<KeptPfns>().swap(pr.kept);
      Napi::Object changed = Napi::Object::New(env);
      changed.Set("index", index);
      changed.Set("pfn", pfn);
      results.Get(pr.child).As<Napi::Object>().Set("pfnChanged", changed);
    }
    for (size_t m = 0; m < family_.size(); m++) {
      Napi::Object obj = results.Get(m).As<Napi::Object>();
      SetPagemapStatus(env, obj, family_[m].out);
      if (family_[m].failed) {
        Napi::Object failed = Napi::Object::New(env);
        failed.Set("error", ToJsError(env, family_[m].error).Value());
        results.Set(m, failed);
      }
    }
    deferred_.Resolve(results);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<FamilyMember> family_;
  std::vector<FamilyPair> pairs_;
  Columns columns_;  // populated by the stripes, each its share, before they read
  Napi::ObjectReference results_;
};

Napi::Value ReadFamilyPagemapsAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray())
    throw Napi::TypeError::New(env, "readFamilyPagemapsAsync(pids, starts[], ends[], scanZero, zeroPfn)");
  Napi::Array pids = info[0].As<Napi::Array>(), starts = info[1].As<Napi::Array>(), ends = info[2].As<Napi::Array>();
  if (starts.Length() != pids.Length() || ends.Length() != pids.Length()) throw Napi::RangeError::New(env, "one starts and one ends array per pid");
  const bool scanZero = info.Length() > 3 && info[3].ToBoolean();
  const uint64_t zeroPfn = info.Length() > 4 && info[4].IsNumber() ? static_cast<uint64_t>(info[4].As<Napi::Number>().DoubleValue()) : 0;
  const size_t ps = PageSize();
  std::vector<FamilyMember> family(pids.Length());
  for (uint32_t m = 0; m < pids.Length(); m++) {
    Napi::Value pid = pids.Get(m), s = starts.Get(m), e = ends.Get(m);
    if (!pid.IsNumber() || pid.As<Napi::Number>().Int32Value() <= 0) throw Napi::TypeError::New(env, "pids must be positive numbers");
    auto f64 = [&](const Napi::Value& v) {
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) throw Napi::TypeError::New(env, "starts and ends must be Float64Arrays");
      return ToU64(v.As<Napi::Float64Array>());
    };
    PagemapArgs& a = family[m].args;
    a = PagemapArgs{pid.As<Napi::Number>().Int32Value(), f64(s), f64(e), scanZero, zeroPfn, 0};
    if (a.starts.size() != a.ends.size()) throw Napi::RangeError::New(env, "starts and ends differ in length");
    for (size_t r = 0; r < a.starts.size(); r++) {
      if (a.starts[r] % ps || a.ends[r] % ps || a.ends[r] < a.starts[r]) throw Napi::RangeError::New(env, "ranges must be page-aligned with start <= end");
      if (r && a.starts[r] < a.ends[r - 1]) throw Napi::RangeError::New(env, "ranges must be sorted and apart");
      a.total += (a.ends[r] - a.starts[r]) / ps;
    }
  }
  // pairs: [{ child, reference, runs, siblings: [{ member, runs }], zeroMask, compact }], member indexes;
  // runs checked as classify.cc checks them, and in the child's page order (each stripe walks them
  // forward). A compact child is no pair's reference, nor the child of two pairs (its PFNs are kept
  // against its one reference's column).
  std::vector<FamilyPair> pairs;
  if (info.Length() > 5 && info[5].IsArray()) {
    Napi::Array list = info[5].As<Napi::Array>();
    auto member = [&](Napi::Value v) {
      const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d < static_cast<double>(family.size()) && d == static_cast<double>(static_cast<size_t>(d)))) throw Napi::RangeError::New(env, "a pair names no member");
      return static_cast<size_t>(d);
    };
    auto runsOf = [&](Napi::Value v, size_t childPages, size_t otherPages) {
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) throw Napi::TypeError::New(env, "runs must be a Float64Array");
      Napi::Float64Array a = v.As<Napi::Float64Array>();
      if (a.ElementLength() % 3) throw Napi::RangeError::New(env, "runs must be (child index, paired index, count) triples");
      std::vector<double> runs(a.Data(), a.Data() + a.ElementLength());
      double end = 0;
      for (size_t k = 0; k < runs.size(); k += 3) {
        const double c0 = runs[k], r0 = runs[k + 1], n = runs[k + 2];
        if (!(c0 >= end && n >= 0 && c0 + n <= static_cast<double>(childPages) && (r0 == -1 || (r0 >= 0 && r0 + n <= static_cast<double>(otherPages)))))
          throw Napi::RangeError::New(env, "a run lies outside the pages or out of order");
        end = c0 + n;
      }
      return runs;
    };
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Object o = list.Get(i).As<Napi::Object>();
      FamilyPair pr;
      pr.child = member(o.Get("child"));
      pr.reference = member(o.Get("reference"));
      if (pr.child == pr.reference) throw Napi::RangeError::New(env, "a pair's child is its own reference");
      pr.runs = runsOf(o.Get("runs"), family[pr.child].args.total, family[pr.reference].args.total);
      pr.zeroMask = static_cast<uint16_t>(o.Get("zeroMask").ToNumber().Uint32Value());
      pr.compact = o.Get("compact").ToBoolean();
      if (pr.compact && family[pr.child].args.total > UINT32_MAX) throw Napi::RangeError::New(env, "a compact child's page indexes must fit in 32 bits");
      Napi::Value sibs = o.Get("siblings");
      if (sibs.IsArray()) {
        Napi::Array sl = sibs.As<Napi::Array>();
        for (uint32_t k = 0; k < sl.Length(); k++) {
          Napi::Object so = sl.Get(k).As<Napi::Object>();
          const size_t sm = member(so.Get("member"));
          if (sm == pr.child) throw Napi::RangeError::New(env, "a child is not its own sibling");
          pr.siblings.push_back({sm, runsOf(so.Get("runs"), family[pr.child].args.total, family[sm].args.total)});
        }
      }
      pairs.push_back(std::move(pr));
    }
    for (const FamilyPair& pr : pairs) {
      for (const FamilyPair& other : pairs) {
        if (!other.compact) continue;
        if (pr.reference == other.child || (&pr != &other && pr.child == other.child))
          throw Napi::RangeError::New(env, "a compact child is another pair's reference or child");
      }
    }
  }
  auto* worker = new FamilyPagemapWorker(env, std::move(family), std::move(pairs));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// readTextAsync(path) -> Promise<string>: a whole (proc) file read in one thread-pool job. smaps_rollup
// walks the page tables inside read(), as long as a pagemap read takes, so the rollups of a family are
// read on the pool next to their pagemaps; fs.readFile would spend five pool round trips on each.
std::string ReadTextCore(const std::string& path) {
  Fd fd(path);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysError{errno, "read", path};
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class TextWorker : public Napi::AsyncWorker {
 public:
  TextWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      text_ = ReadTextCore(path_);
    } catch (const SysError& se) {
      error_ = se;
      SetError(se.Message());
    }
  }
  void OnOK() override { deferred_.Resolve(Napi::String::New(Env(), text_)); }
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), error_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_, text_;
  SysError error_{0, "", ""};
};

Napi::Value ReadTextAsync(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  auto* worker = new TextWorker(info.Env(), info[0].As<Napi::String>().Utf8Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// Reads one u64 per index from a PFN-indexed file, sorting and coalescing nearby PFNs into windows
// (gap < 64, window <= 4096 entries): 3-4x faster than one pread per PFN (§3, §8).
void ReadPfnIndexed(const Fd& fd, const std::vector<uint64_t>& pfns, const std::vector<size_t>& order,
                    double* out) {
  constexpr uint64_t kGap = 64, kWindow = 4096;
  std::vector<uint64_t> buf(kWindow);
  size_t i = 0;
  while (i < order.size()) {
    const uint64_t first = pfns[order[i]];
    size_t j = i + 1;
    while (j < order.size() && pfns[order[j]] - pfns[order[j - 1]] < kGap && pfns[order[j]] - first < kWindow) j++;
    const uint64_t count = pfns[order[j - 1]] - first + 1;
    const size_t got = PreadFull(fd, buf.data(), count * sizeof(uint64_t), first * sizeof(uint64_t)) /
                       sizeof(uint64_t);
    for (size_t k = i; k < j; k++) {
      const uint64_t idx = pfns[order[k]] - first;
      // Keep the low 53 bits: exact in a double, and every flag cowscope reads is below bit 53.
      out[order[k]] = idx < got ? static_cast<double>(buf[idx] & ((1ULL << 53) - 1)) : 0;
    }
    i = j;
  }
}

// readKpage(pfns) -> { count: Float64Array, flags: Float64Array } from /proc/kpagecount, /proc/kpageflags.
Napi::Value ReadKpage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<uint64_t> pfns = ToU64(ArgFloat64Array(info, 0, "pfns"));
  std::vector<size_t> order(pfns.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pfns[a] < pfns[b]; });
  Napi::Float64Array count = Napi::Float64Array::New(env, pfns.size());
  Napi::Float64Array flags = Napi::Float64Array::New(env, pfns.size());
  Sync(env, [&] {
    Fd countFd("/proc/kpagecount");
    Fd flagsFd("/proc/kpageflags");
    ReadPfnIndexed(countFd, pfns, order, count.Data());
    ReadPfnIndexed(flagsFd, pfns, order, flags.Data());
  });
  Napi::Object out = Napi::Object::New(env);
  out.Set("count", count);
  out.Set("flags", flags);
  return out;
}

// ---- memory reads: present pages only (§9.3: reading a non-present page changes the target) ----

enum PageStatus : uint8_t { kOk = 0, kDiffers = 1, kNotPresentA = 2, kNotPresentB = 3, kUnreadable = 4 };

// Per address: is the page present and not swapped? Coalesces nearby addresses into one pread.
std::vector<uint8_t> PresentMask(int pid, const std::vector<uint64_t>& addrs) {
  const size_t ps = PageSize();
  Fd fd(ProcPath(pid, "pagemap"));
  std::vector<uint8_t> present(addrs.size(), 0);
  std::vector<uint64_t> buf(4096);
  size_t i = 0;
  while (i < addrs.size()) {
    const uint64_t first = addrs[i] / ps;
    size_t j = i + 1;
    while (j < addrs.size() && addrs[j] / ps >= addrs[j - 1] / ps && addrs[j] / ps - first < buf.size()) j++;
    const uint64_t count = addrs[j - 1] / ps - first + 1;
    const size_t got = PreadFull(fd, buf.data(), count * sizeof(uint64_t), first * sizeof(uint64_t)) /
                       sizeof(uint64_t);
    for (size_t k = i; k < j; k++) {
      const uint64_t idx = addrs[k] / ps - first;
      const uint64_t e = idx < got ? buf[idx] : 0;
      present[k] = (e & PM_PRESENT) && !(e & (PM_SWAP | PM_GUARD));
    }
    i = j;
  }
  return present;
}

// Copies the listed pages of `pid` into dst (page i at dst + i * page size). Pages with want[i]==0 are
// skipped; status[i] becomes kUnreadable for pages that could not be read.
//
// Reads go through /proc/PID/mem, never process_vm_readv: on this kernel (6.18) process_vm_readv pins
// pages with FOLL_PIN, and pinning a possibly-shared anonymous page un-shares it (the kernel copies the
// page in the target), so reading a child's shared page would itself create the copy being measured.
// /proc/PID/mem uses FOLL_FORCE without pinning and leaves sharing intact (test/probe.test.ts checks).
// Contiguous pages are read with one pread of up to 1 MiB, the measured sweet spot.
//
// With a read tap open (reuse.cc) and want being the pagemap's present mask, as for every reader but
// comparePages (which never runs under a tap), each page's outcome is recorded: its bytes' hash, not
// present, or unreadable.
void ReadPagesIntoUntapped(int pid, const std::vector<uint64_t>& addrs, const std::vector<uint8_t>& want,
                           uint8_t* dst, std::vector<uint8_t>& status);
void ReadPagesInto(int pid, const std::vector<uint64_t>& addrs, const std::vector<uint8_t>& want,
                   uint8_t* dst, std::vector<uint8_t>& status, bool tap = true) {
  ReadPagesIntoUntapped(pid, addrs, want, dst, status);
  if (!tap || !TapOn()) return;
  const size_t ps = PageSize();
  for (size_t i = 0; i < addrs.size(); i++) {
    if (!want[i]) TapRecord(pid, addrs[i], ps, kTapAbsent, 0);
    else if (status[i] != kOk) TapRecord(pid, addrs[i], ps, kTapUnreadable, 0);
    else TapRecord(pid, addrs[i], ps, kTapPage, HashBytes(dst + i * ps, ps, 0));
  }
}

void ReadPagesIntoUntapped(int pid, const std::vector<uint64_t>& addrs, const std::vector<uint8_t>& want,
                           uint8_t* dst, std::vector<uint8_t>& status) {
  const size_t ps = PageSize();
  const size_t maxRun = std::max<size_t>(1, (1u << 20) / ps);
  bool any = false;
  for (uint8_t w : want) any = any || w;
  if (!any) return;
  // /proc/PID/mem needs ptrace-attach rights (Yama ptrace_scope >= 1 allows descendants only): without
  // them the pages are unreadable, not an error; callers keep their metadata verdicts.
  Fd mem(ProcPath(pid, "mem"), std::nothrow);
  if (!mem.ok()) {
    if (errno != EACCES && errno != EPERM) throw SysError{errno, "open", mem.path()};
    for (size_t i = 0; i < addrs.size(); i++)
      if (want[i]) status[i] = kUnreadable;
    return;
  }
  auto readOne = [&](size_t i, size_t pages) -> bool {
    size_t len = pages * ps, done = 0;
    while (done < len) {
      ssize_t n = pread(mem.get(), dst + i * ps + done, len - done, static_cast<off_t>(addrs[i] + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  };
  size_t i = 0;
  while (i < addrs.size()) {
    if (!want[i]) {
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < addrs.size() && want[j] && addrs[j] == addrs[j - 1] + ps && j - i < maxRun) j++;
    if (!readOne(i, j - i)) {  // some page of the run failed: find which, page by page
      for (size_t k = i; k < j; k++)
        if (!readOne(k, 1)) status[k] = kUnreadable;
    }
    i = j;
  }
}

std::vector<uint64_t> PageAddrs(Napi::Env env, const Napi::Float64Array& a) {
  std::vector<uint64_t> addrs = ToU64(a);
  for (uint64_t x : addrs)
    if (x % PageSize()) throw Napi::RangeError::New(env, "addresses must be page-aligned");
  return addrs;
}

// readPages(pid, addrs) -> { data: Buffer, status: Uint8Array (0 ok, 2 not present, 4 unreadable) }
Napi::Value ReadPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int pid = ArgPid(info, 0);
  const std::vector<uint64_t> addrs = PageAddrs(env, ArgFloat64Array(info, 1, "addrs"));
  const size_t ps = PageSize();
  Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::New(env, addrs.size() * ps);
  memset(data.Data(), 0, data.Length());
  std::vector<uint8_t> status(addrs.size(), kOk);
  Sync(env, [&] {
    std::vector<uint8_t> present = PresentMask(pid, addrs);
    for (size_t i = 0; i < addrs.size(); i++)
      if (!present[i]) status[i] = kNotPresentA;
    ReadPagesInto(pid, addrs, present, data.Data(), status);
  });
  Napi::Uint8Array st = Napi::Uint8Array::New(env, addrs.size());
  std::copy(status.begin(), status.end(), st.Data());
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", data);
  out.Set("status", st);
  return out;
}

// comparePages(pidA, pidB, addrs) -> { status, wordPage, wordOffset, oldWord, newWord }
// For each page: 0 identical, 1 differs, 2 not present in A, 3 not present in B, 4 unreadable.
// For differing pages every changed 8-byte word is listed: the page's index in addrs, the byte offset in
// the page, A's value (old) and B's value (new).
struct Comparison {
  std::vector<uint8_t> status;
  std::vector<uint32_t> wPage;
  std::vector<uint16_t> wOff;
  std::vector<uint64_t> wOld, wNew;
};

Comparison ComparePagesCore(int pidA, int pidB, const std::vector<uint64_t>& addrs) {
  const size_t ps = PageSize();
  const size_t n = addrs.size();
  Comparison c;
  std::vector<uint8_t>& status = c.status;
  status.assign(n, kOk);
  std::vector<uint8_t> presentA = PresentMask(pidA, addrs);
  std::vector<uint8_t> presentB = PresentMask(pidB, addrs);
  std::vector<uint8_t> both(n);
  for (size_t i = 0; i < n; i++) {
    if (!presentA[i]) status[i] = kNotPresentA;
    else if (!presentB[i]) status[i] = kNotPresentB;
    both[i] = presentA[i] && presentB[i];
  }
  std::vector<uint32_t>& wPage = c.wPage;
  std::vector<uint16_t>& wOff = c.wOff;
  std::vector<uint64_t>& wOld = c.wOld;
  std::vector<uint64_t>& wNew = c.wNew;
  // Work in batches so memory stays bounded (2 x 4 MiB with 4 KiB pages).
  constexpr size_t kBatch = 1024;
  std::vector<uint8_t> bufA(kBatch * ps), bufB(kBatch * ps);
  for (size_t b = 0; b < n; b += kBatch) {
    const size_t m = std::min(kBatch, n - b);
    std::vector<uint64_t> sub(addrs.begin() + b, addrs.begin() + b + m);
    std::vector<uint8_t> want(both.begin() + b, both.begin() + b + m);
    std::vector<uint8_t> st(status.begin() + b, status.begin() + b + m);
    ReadPagesInto(pidA, sub, want, bufA.data(), st, /*tap=*/false);
    for (size_t k = 0; k < m; k++) want[k] = want[k] && st[k] == kOk;
    ReadPagesInto(pidB, sub, want, bufB.data(), st, /*tap=*/false);
    for (size_t k = 0; k < m; k++) {
      if (!want[k] || st[k] != kOk) {
        status[b + k] = st[k];
        continue;
      }
      const uint8_t* pa = bufA.data() + k * ps;
      const uint8_t* pb = bufB.data() + k * ps;
      if (memcmp(pa, pb, ps) == 0) continue;
      status[b + k] = kDiffers;
      const uint64_t* wa = reinterpret_cast<const uint64_t*>(pa);
      const uint64_t* wb = reinterpret_cast<const uint64_t*>(pb);
      for (size_t w = 0; w < ps / 8; w++) {
        if (wa[w] == wb[w]) continue;
        wPage.push_back(static_cast<uint32_t>(b + k));
        wOff.push_back(static_cast<uint16_t>(w * 8));
        wOld.push_back(wa[w]);
        wNew.push_back(wb[w]);
      }
    }
  }
  return c;
}

Napi::Object ComparisonObject(Napi::Env env, size_t n, const Comparison& c) {
  const std::vector<uint8_t>& status = c.status;
  const std::vector<uint32_t>& wPage = c.wPage;
  const std::vector<uint16_t>& wOff = c.wOff;
  const std::vector<uint64_t>& wOld = c.wOld;
  const std::vector<uint64_t>& wNew = c.wNew;
  Napi::Uint8Array st = Napi::Uint8Array::New(env, n);
  std::copy(status.begin(), status.end(), st.Data());
  Napi::Uint32Array page = Napi::Uint32Array::New(env, wPage.size());
  std::copy(wPage.begin(), wPage.end(), page.Data());
  Napi::Uint16Array off = Napi::Uint16Array::New(env, wOff.size());
  std::copy(wOff.begin(), wOff.end(), off.Data());
  Napi::BigUint64Array oldW = Napi::BigUint64Array::New(env, wOld.size());
  std::copy(wOld.begin(), wOld.end(), oldW.Data());
  Napi::BigUint64Array newW = Napi::BigUint64Array::New(env, wNew.size());
  std::copy(wNew.begin(), wNew.end(), newW.Data());
  Napi::Object out = Napi::Object::New(env);
  out.Set("status", st);
  out.Set("wordPage", page);
  out.Set("wordOffset", off);
  out.Set("oldWord", oldW);
  out.Set("newWord", newW);
  return out;
}

Napi::Value ComparePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int pidA = ArgPid(info, 0);
  const int pidB = ArgPid(info, 1);
  const std::vector<uint64_t> addrs = PageAddrs(env, ArgFloat64Array(info, 2, "addrs"));
  const Comparison c = Sync(env, [&] { return ComparePagesCore(pidA, pidB, addrs); });
  return ComparisonObject(env, addrs.size(), c);
}

// The same on the libuv thread pool: the children of a family are compared with their parent at once
// (inspect --watch).
class CompareWorker : public Napi::AsyncWorker {
 public:
  CompareWorker(Napi::Env env, int pidA, int pidB, std::vector<uint64_t> addrs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), pidA_(pidA), pidB_(pidB), addrs_(std::move(addrs)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      c_ = ComparePagesCore(pidA_, pidB_, addrs_);
    } catch (const SysError& se) {
      error_ = se;
      SetError(se.Message());
    }
  }
  void OnOK() override { deferred_.Resolve(ComparisonObject(Env(), addrs_.size(), c_)); }
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), error_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int pidA_, pidB_;
  std::vector<uint64_t> addrs_;
  Comparison c_;
  SysError error_{0, "", ""};
};

// comparePagesAsync(pidA, pidB, addrs) -> Promise of comparePages' result
Napi::Value ComparePagesAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* worker = new CompareWorker(env, ArgPid(info, 0), ArgPid(info, 1), PageAddrs(env, ArgFloat64Array(info, 2, "addrs")));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// What a read fault maps: the pagemap entry of a fresh page of our own, read-faulted. The shared zero
// page is present and never exclusive (bit 56, visible without privileges); a kernel that maps no zero
// page (a virtualized one booted with pvm_no_zero_page=1, say) gives a zeroed page of our own instead,
// exclusive. 0 when the entry cannot be read.
uint64_t ReadFaultEntry() {
  static uint64_t cached = [] {
    const size_t ps = PageSize();
    void* p = mmap(nullptr, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return uint64_t{0};
    madvise(p, ps, MADV_NOHUGEPAGE);
    volatile char sink = static_cast<volatile char*>(p)[0];
    (void)sink;
    uint64_t e = 0;
    Fd fd("/proc/self/pagemap", std::nothrow);
    if (!fd.ok() || pread(fd.get(), &e, sizeof(e), static_cast<off_t>(reinterpret_cast<uint64_t>(p) / ps * 8)) != 8) e = 0;
    munmap(p, ps);
    return e;
  }();
  return cached;
}

// Do read faults map the shared zero page?
bool ZeroPageOnRead() {
  const uint64_t e = ReadFaultEntry();
  return (e & PM_PRESENT) && !(e & PM_EXCLUSIVE);
}

// The frame of the shared zero page (0 when PFNs are hidden, or when read faults map no zero page).
// With it, the exact tier tells zero pages apart from the PFN alone, with no extra pass.
uint64_t ZeroPagePfn() { return ZeroPageOnRead() ? ReadFaultEntry() & PM_PFN_MASK : 0; }

// features() -> what this kernel and these credentials allow, probed on our own process.
Napi::Value Features(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t ps = PageSize();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pageSize", Napi::Number::New(env, static_cast<double>(ps)));

  // A fresh, written page of our own: present, exclusive, soft-dirty if the kernel tracks it.
  void* p = mmap(nullptr, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bool pfnVisible = false, softDirty = false, pagemapReadable = false, pagemapScan = false;
  if (p != MAP_FAILED) {
    static_cast<volatile char*>(p)[0] = 1;
    Fd fd("/proc/self/pagemap", std::nothrow);
    if (fd.ok()) {
      uint64_t e = 0;
      if (pread(fd.get(), &e, sizeof(e), static_cast<off_t>(reinterpret_cast<uint64_t>(p) / ps * 8)) == 8) {
        pagemapReadable = true;
        pfnVisible = (e & PM_PRESENT) && (e & PM_PFN_MASK) != 0;
        softDirty = (e & PM_SOFT_DIRTY) != 0;
      }
      PageRegion region{};
      PmScanArg arg{};
      arg.size = sizeof(arg);
      arg.start = reinterpret_cast<uint64_t>(p);
      arg.end = arg.start + ps;
      arg.vec = reinterpret_cast<uint64_t>(&region);
      arg.vec_len = 1;
      arg.category_mask = PAGE_IS_PRESENT;
      arg.return_mask = PAGE_IS_PRESENT;
      pagemapScan = ioctl(fd.get(), kPagemapScan, &arg) >= 0;
    }
    munmap(p, ps);
  }
  out.Set("pagemapReadable", Napi::Boolean::New(env, pagemapReadable));
  out.Set("zeroPfn", Napi::Number::New(env, static_cast<double>(ZeroPagePfn())));
  out.Set("zeroPage", Napi::Boolean::New(env, ZeroPageOnRead()));
  out.Set("pfnVisible", Napi::Boolean::New(env, pfnVisible));
  out.Set("softDirty", Napi::Boolean::New(env, softDirty));
  out.Set("pagemapScan", Napi::Boolean::New(env, pagemapScan));
  out.Set("kpagecount", Napi::Boolean::New(env, Fd("/proc/kpagecount", std::nothrow).ok()));
  out.Set("kpageflags", Napi::Boolean::New(env, Fd("/proc/kpageflags", std::nothrow).ok()));
  return out;
}

// ---- process lifecycle: cowscope reaps every process it started, grandchildren included ----

// setChildSubreaper(): orphans of our descendants (e.g. the children of a Ruby parent that died) are
// re-parented to us instead of to init, so reap() can collect them.
// setChildSubreaper(false) turns it off again (tests that adopt a family for a while).
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  const unsigned long on = info.Length() > 0 && info[0].IsBoolean() && !info[0].As<Napi::Boolean>().Value() ? 0 : 1;
  if (prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) != 0) throw ToJsError(info.Env(), SysError{errno, "prctl", "PR_SET_CHILD_SUBREAPER"});
  return info.Env().Undefined();
}

// setAddressRandomization(on) -> the previous setting. Clears (on) or sets (off) ADDR_NO_RANDOMIZE in the
// calling thread's personality. A program started from this thread afterwards inherits it, and its exec
// then places stack, mmap areas and brk at the same addresses every run: repeated runs of one program
// copy the same pages, which address-space randomisation alone otherwise moves by several percent.
Napi::Value SetAddressRandomization(const Napi::CallbackInfo& info) {
  const bool on = !(info.Length() > 0 && info[0].IsBoolean() && !info[0].As<Napi::Boolean>().Value());
  const int current = personality(0xffffffff);
  if (current < 0) throw ToJsError(info.Env(), SysError{errno, "personality", "query"});
  const unsigned long next = on ? (current & ~ADDR_NO_RANDOMIZE) : (current | ADDR_NO_RANDOMIZE);
  if (personality(next) < 0) throw ToJsError(info.Env(), SysError{errno, "personality", "ADDR_NO_RANDOMIZE"});
  return Napi::Boolean::New(info.Env(), !(current & ADDR_NO_RANDOMIZE));
}

// reap(pid) -> true when pid is gone (reaped now, or not our child any more), false while it still runs.
// Waits only for that pid (never -1), so it cannot steal the exit status of libuv's own children.
Napi::Value Reap(const Napi::CallbackInfo& info) {
  const int pid = ArgPid(info, 0);
  int status = 0;
  pid_t r;
  do r = waitpid(pid, &status, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), true);  // reaped, or ECHILD: another process's child
}

// watchExit(pid, callback) -> id: calls callback once, from the event loop, as soon as pid exits (any
// process, not only our children: a pidfd becomes readable when its process ends, zombie or not).
// The watch does not keep the event loop alive. unwatchExit(id) stops it and closes the pidfd; call it
// for every watch. Throws ESRCH when pid does not exist.
struct ExitWatch {
  uv_poll_t poll;
  int fd = -1;
  napi_env env = nullptr;
  Napi::FunctionReference callback;
  bool fired = false;
};

std::unordered_map<int, ExitWatch*>& Watches() {
  static std::unordered_map<int, ExitWatch*> watches;
  return watches;
}

void OnWatchClosed(uv_handle_t* handle) {
  auto* w = static_cast<ExitWatch*>(handle->data);
  close(w->fd);
  delete w;
}

void OnPidfdReadable(uv_poll_t* handle, int, int) {
  auto* w = static_cast<ExitWatch*>(handle->data);
  uv_poll_stop(handle);
  if (w->fired) return;
  w->fired = true;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  try {
    w->callback.MakeCallback(env.Global(), {});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int pid = ArgPid(info, 0);
  if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "watchExit(pid, callback)");
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) throw ToJsError(env, SysError{errno, "pidfd_open", "/proc/" + std::to_string(pid)});
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    close(fd);
    throw Napi::Error::New(env, "watchExit: no event loop");
  }
  auto* w = new ExitWatch();
  w->fd = fd;
  w->env = env;
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  w->poll.data = w;
  if (uv_poll_init(loop, &w->poll, fd) != 0 || uv_poll_start(&w->poll, UV_READABLE, OnPidfdReadable) != 0) {
    close(fd);
    delete w;
    throw Napi::Error::New(env, "watchExit: cannot poll the pidfd");
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  Watches()[fd] = w;
  return Napi::Number::New(env, fd);
}

Napi::Value UnwatchExit(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "unwatchExit(id)");
  const int id = info[0].As<Napi::Number>().Int32Value();
  auto it = Watches().find(id);
  if (it == Watches().end()) return info.Env().Undefined();
  ExitWatch* w = it->second;
  Watches().erase(it);
  uv_poll_stop(&w->poll);
  w->callback.Reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnWatchClosed);
  return info.Env().Undefined();
}

// ---- structure discovery: words of a (stopped) process (malloc chunk walks: malloc.cc) ----

// The words on present pages, a read of /proc/PID/mem a page (unreadable: ok = 0).
void ReadSparseWords(int pid, const std::vector<uint64_t>& addrs, const std::vector<uint64_t>& pages, const std::vector<uint8_t>& present,
                     Napi::BigUint64Array& words, Napi::Uint8Array& ok) {
  const size_t ps = PageSize();
  Fd mem(ProcPath(pid, "mem"), std::nothrow);
  // without ptrace-attach rights the words are unreadable, not an error (as ReadPagesInto)
  if (!mem.ok() && errno != EACCES && errno != EPERM) throw SysError{errno, "open", mem.path()};
  for (size_t i = 0; i < addrs.size(); i++) {
    words[i] = 0;
    ok[i] = 0;
  }
  if (!mem.ok()) return;
  // The words of one page in one read, from the first to the last asked for there: a read of
  // /proc/PID/mem costs the same for 8 bytes as for a few hundred (a page-table walk and a mapping of
  // the page), and the words come in groups (a class's slot and tables, an iseq body's fields). In
  // address order; a word that crosses a page end is not read (as before).
  std::vector<size_t> order(addrs.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return addrs[x] < addrs[y]; });
  std::vector<uint8_t> buf(ps);
  for (size_t g = 0; g < order.size();) {
    const uint64_t page = addrs[order[g]] & ~(ps - 1);
    size_t end = g;
    while (end < order.size() && (addrs[order[end]] & ~(ps - 1)) == page) end++;
    const size_t k = std::lower_bound(pages.begin(), pages.end(), page) - pages.begin();
    // the group's words that lie whole in the page
    size_t last = end;
    while (last > g && (addrs[order[last - 1]] & (ps - 1)) + 8 > ps) last--;
    if (present[k] && last > g) {
      const uint64_t from = addrs[order[g]], to = addrs[order[last - 1]] + 8;
      ssize_t n;
      do n = pread(mem.get(), buf.data(), to - from, static_cast<off_t>(from));
      while (n < 0 && errno == EINTR);
      if (n == static_cast<ssize_t>(to - from))
        for (size_t j = g; j < last; j++) {
          uint64_t w;
          memcpy(&w, buf.data() + (addrs[order[j]] - from), 8);
          words[order[j]] = w;
          ok[order[j]] = 1;
        }
    }
    g = end;
  }
}

// readWords(pid, addrs) -> { words: BigUint64Array, ok: Uint8Array }. Reads each 8-byte word from the
// page that holds it; pages that are not present are never read (ok = 0 there).
Napi::Value ReadWords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int pid = ArgPid(info, 0);
  const std::vector<uint64_t> addrs = ToU64(ArgFloat64Array(info, 1, "addrs"));
  const size_t ps = PageSize();
  std::vector<uint64_t> pages;
  pages.reserve(addrs.size());
  for (uint64_t a : addrs) pages.push_back(a & ~(ps - 1));
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  Napi::BigUint64Array words = Napi::BigUint64Array::New(env, addrs.size());
  Napi::Uint8Array ok = Napi::Uint8Array::New(env, addrs.size());
  Sync(env, [&] {
    std::vector<uint8_t> present = PresentMask(pid, pages);
    // A few words per page (one per page of a mapping, to find chunk headers): a page's words are read
    // by themselves (the span from the first to the last), instead of whole pages into a buffer as large
    // as the mapping. A read tap (reuse.cc) hashes whole pages, so it keeps the page reads.
    if (!TapOn() && addrs.size() <= 4 * pages.size()) {
      ReadSparseWords(pid, addrs, pages, present, words, ok);
      return;
    }
    std::vector<uint8_t> status(pages.size(), kOk);
    std::vector<uint8_t> buf(pages.size() * ps);
    ReadPagesInto(pid, pages, present, buf.data(), status);
    for (size_t i = 0; i < addrs.size(); i++) {
      const size_t k = std::lower_bound(pages.begin(), pages.end(), addrs[i] & ~(ps - 1)) - pages.begin();
      const uint64_t off = addrs[i] & (ps - 1);
      words[i] = 0;
      ok[i] = 0;
      if (!present[k] || status[k] != kOk || off + 8 > ps) continue;
      memcpy(&words[i], buf.data() + k * ps + off, 8);
      ok[i] = 1;
    }
  });
  Napi::Object out = Napi::Object::New(env);
  out.Set("words", words);
  out.Set("ok", ok);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitHeapDump(env, exports);
  InitPointers(env, exports);
  InitFaults(env, exports);
  InitClassify(env, exports);
  InitReuse(env, exports);
  InitMalloc(env, exports);
  InitPointed(env, exports);
  InitChunkWords(env, exports);
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper));
  exports.Set("setAddressRandomization", Napi::Function::New(env, SetAddressRandomization));
  exports.Set("reap", Napi::Function::New(env, Reap));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit));
  exports.Set("unwatchExit", Napi::Function::New(env, UnwatchExit));
  exports.Set("readWords", Napi::Function::New(env, ReadWords));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
  // The flags column's bits, by name: native/page-flags.ts carries the same table for offline use, and a
  // test holds the two equal.
  Napi::Object bits = Napi::Object::New(env);
  const std::pair<const char*, uint16_t> kFlagNames[] = {{"present", F_PRESENT}, {"swapped", F_SWAPPED}, {"exclusive", F_EXCLUSIVE},
                                                         {"file", F_FILE},       {"softDirty", F_SOFT_DIRTY}, {"uffdWp", F_UFFD_WP},
                                                         {"guard", F_GUARD},     {"zero", F_ZERO},       {"huge", F_HUGE}};
  for (const auto& [name, bit] : kFlagNames) bits.Set(name, Napi::Number::New(env, bit));
  exports.Set("pageFlagBits", bits);
  exports.Set("readPagemap", Napi::Function::New(env, ReadPagemap));
  exports.Set("readPagemapAsync", Napi::Function::New(env, ReadPagemapAsync));
  exports.Set("readFamilyPagemapsAsync", Napi::Function::New(env, ReadFamilyPagemapsAsync));
  exports.Set("readTextAsync", Napi::Function::New(env, ReadTextAsync));
  exports.Set("readKpage", Napi::Function::New(env, ReadKpage));
  exports.Set("readPages", Napi::Function::New(env, ReadPages));
  exports.Set("comparePages", Napi::Function::New(env, ComparePages));
  exports.Set("comparePagesAsync", Napi::Function::New(env, ComparePagesAsync));
  exports.Set("features", Napi::Function::New(env, Features));
  return exports;
}

}  // namespace

namespace cowscope {
std::vector<uint8_t> PresentMaskOf(int pid, const std::vector<uint64_t>& pages) { return PresentMask(pid, pages); }

bool ReadPresentRange(int pid, const Fd& mem, uint64_t addr, size_t len, uint8_t* out) {
  if (!len) return true;
  const uint64_t ps = PageSize();
  std::vector<uint64_t> pages;
  for (uint64_t p = addr & ~(ps - 1); p < addr + len; p += ps) pages.push_back(p);
  const std::vector<uint8_t> present = PresentMask(pid, pages);
  try {
    for (size_t i = 0; i < pages.size();) {
      size_t j = i;
      while (j < pages.size() && present[j] == present[i]) j++;  // a run of pages alike
      const uint64_t from = std::max(pages[i], addr);
      const uint64_t to = std::min(j < pages.size() ? pages[j] : addr + len, addr + len);
      if (present[i]) {
        if (PreadFull(mem, out + (from - addr), to - from, from) != to - from) return false;
      } else {
        memset(out + (from - addr), 0, to - from);
      }
      i = j;
    }
  } catch (const SysError& e) {
    if (e.err != EIO && e.err != EFAULT) throw;
    return false;
  }
  return true;
}
void ReadPresentPages(int pid, const std::vector<uint64_t>& pages, const std::vector<uint8_t>& want, uint8_t* dst, std::vector<uint8_t>& status, bool tap) {
  ReadPagesInto(pid, pages, want, dst, status, tap);
}
}  // namespace cowscope

NODE_API_MODULE(cowscope_probe, Init)
