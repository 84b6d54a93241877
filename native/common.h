// Helpers shared by the probe's C++ files: system errors that become JS exceptions, an fd that
// closes itself, full preads, the page size.
#pragma once

#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

namespace cowscope {

inline size_t PageSize() {
  static const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return ps;
}

inline std::string ErrnoCode(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "E" + std::to_string(err);
}

// A failed system call. The core functions below throw it from any thread; the N-API edge turns it
// into a JS Error shaped like Node's system errors (message, errno, code, syscall, path).
struct SysError {
  int err;
  std::string syscall;
  std::string path;
  std::string Message() const { return ErrnoCode(err) + ": " + syscall + " " + path + ": " + strerror(err); }
};

inline Napi::Error ToJsError(Napi::Env env, const SysError& se) {
  Napi::Error e = Napi::Error::New(env, se.Message());
  e.Set("errno", Napi::Number::New(env, se.err));
  e.Set("code", Napi::String::New(env, ErrnoCode(se.err)));
  e.Set("syscall", Napi::String::New(env, se.syscall));
  e.Set("path", Napi::String::New(env, se.path));
  return e;
}

// Runs a core function on the JS thread, rethrowing its SysError as a JS exception.
template <typename F>
auto Sync(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SysError& se) {
    throw ToJsError(env, se);
  }
}

class Fd {
 public:
  // Throws SysError when the file cannot be opened.
  explicit Fd(const std::string& path) : path_(path) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw SysError{errno, "open", path};
  }
  // Does not throw: for feature probes.
  Fd(const std::string& path, std::nothrow_t) : path_(path) { fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC); }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Reads exactly len bytes at off unless EOF comes first; returns bytes read. Throws on error.
inline size_t PreadFull(const Fd& fd, void* buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd.get(), static_cast<char*>(buf) + done, len - done, static_cast<off_t>(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysError{errno, "pread", fd.path()};
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

inline std::string ProcPath(int pid, const char* file) { return "/proc/" + std::to_string(pid) + "/" + file; }

// Registers the heap-dump functions (heapdump.cc) on the addon's exports.
void InitHeapDump(Napi::Env env, Napi::Object exports);
// Registers the pointer scans (pointers.cc).
void InitPointers(Napi::Env env, Napi::Object exports);

// Arguments from JS: typed arrays of addresses, pids.
// A new typed array holding v's values, converted to its element type where they differ (a column of a
// result: addresses gathered as uint64_t go out as a Float64Array).
template <typename TA, typename T>
TA ToTypedArray(Napi::Env env, const std::vector<T>& v) {
  TA a = TA::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

inline std::vector<uint64_t> ToU64(const Napi::Float64Array& a) {
  std::vector<uint64_t> out(a.ElementLength());
  for (size_t i = 0; i < out.size(); i++) out[i] = static_cast<uint64_t>(a[i]);
  return out;
}

inline Napi::Float64Array ArgFloat64Array(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Float64Array");
  return info[i].As<Napi::Float64Array>();
}

inline int ArgPid(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "pid must be a number");
  int pid = info[i].As<Napi::Number>().Int32Value();
  if (pid <= 0) throw Napi::RangeError::New(info.Env(), "pid must be positive");
  return pid;
}
// Registers the page classification kernels (classify.cc).
void InitClassify(Napi::Env env, Napi::Object exports);

// ---- the flags column handed to JS (one uint16 per page); native/page-flags.ts mirrors this table (probe.cc, classify.cc) ----
constexpr uint16_t F_PRESENT = 1 << 0;
constexpr uint16_t F_SWAPPED = 1 << 1;
constexpr uint16_t F_EXCLUSIVE = 1 << 2;
constexpr uint16_t F_FILE = 1 << 3;
constexpr uint16_t F_SOFT_DIRTY = 1 << 4;
constexpr uint16_t F_UFFD_WP = 1 << 5;
constexpr uint16_t F_GUARD = 1 << 6;
constexpr uint16_t F_ZERO = 1 << 7;  // from PAGEMAP_SCAN PAGE_IS_PFNZERO (needs no privilege)
constexpr uint16_t F_HUGE = 1 << 8;  // from PAGEMAP_SCAN PAGE_IS_HUGE (PMD-mapped THP or hugetlb)

// Registers the fault-tracing functions (faults.cc).
void InitFaults(Napi::Env env, Napi::Object exports);
// Registers the glibc chunk walks (malloc.cc).
void InitMalloc(Napi::Env env, Napi::Object exports);
// Registers the changed-word pointer filters (pointed.cc).
void InitPointed(Napi::Env env, Napi::Object exports);
// Registers the classification of changed words against glibc's chunks (chunkwords.cc).
void InitChunkWords(Napi::Env env, Napi::Object exports);

// ---- read taps (reuse.cc): what a computation read, to reuse its result while those bytes are unchanged ----
// A tapped read: a whole page (read, not present, or unreadable) or a block of a pointer scan.
enum TapKind : uint8_t { kTapPage = 0, kTapAbsent = 1, kTapUnreadable = 2, kTapRange = 3, kTapRangeFailed = 4 };
uint64_t HashBytes(const void* data, size_t n, uint64_t seed);
bool TapOn();
void TapRecord(int pid, uint64_t addr, uint64_t len, uint8_t kind, uint64_t hash);
void InitReuse(Napi::Env env, Napi::Object exports);
// The page readers of probe.cc, for reuse.cc: present (and not swapped) per page, then the present pages.
std::vector<uint8_t> PresentMaskOf(int pid, const std::vector<uint64_t>& pages);
void ReadPresentPages(int pid, const std::vector<uint64_t>& pages, const std::vector<uint8_t>& want, uint8_t* dst, std::vector<uint8_t>& status, bool tap);
// Reads [addr, addr + len) of /proc/PID/mem (open as mem) like pread, but only its present pages: an
// absent (or swapped) page reads as zeros and is left alone. A read of /proc/PID/mem faults the page
// in (the zero page, a file's page), which changes what pagemap says of the target: so a block read by
// a pointer scan, checked again by the reuse tap, reads the same way both times. Returns false when a
// present page cannot be read (EIO, EFAULT); other errors throw.
bool ReadPresentRange(int pid, const Fd& mem, uint64_t addr, size_t len, uint8_t* out);

}  // namespace cowscope
