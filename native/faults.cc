// Fault tracing: every page fault of a process sampled through perf_event_open(2), with no `perf`
// binary. One software event (PERF_COUNT_SW_PAGE_FAULTS, sample_period 1) per online CPU, attached to
// the process with inherit (threads it starts later are followed; the kernel refuses to mmap an
// inherited per-task event, hence per CPU), each with its own ring buffer. Events are created disabled
// and enabled right before the process is continued; the rings are drained from the JS thread
// (periodically while the process runs, and once at the end). Layouts come from <linux/perf_event.h>.
//
// Each sample: ip, pid/tid, time (CLOCK_MONOTONIC, so it compares with the enable time), the fault
// address, and the user callchain. The writing instruction is the sample's ip when the fault was taken
// in user mode, else the first user frame of the callchain (a kernel copy_to_user on behalf of a
// syscall: the frame is the syscall's caller in libc).

#include "common.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include <memory>
#include <unordered_map>
#include <vector>

namespace cowscope {

namespace {

// How many user frames a sample keeps (the writer and its callers).
constexpr int kFrames = 4;

long PerfEventOpen(perf_event_attr* attr, pid_t pid, int cpu) {
  return syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

perf_event_attr FaultAttr(bool kernel) {
  perf_event_attr a;
  memset(&a, 0, sizeof(a));
  a.size = sizeof(a);
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_PAGE_FAULTS;
  a.sample_period = 1;  // every fault
  a.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR | PERF_SAMPLE_CALLCHAIN;
  a.disabled = 1;
  a.inherit = 1;
  // Faults taken in kernel mode (a syscall writing into a user buffer) copy pages too: they are only
  // sampled when kernel events are allowed (root, CAP_PERFMON, or perf_event_paranoid <= 1).
  a.exclude_kernel = kernel ? 0 : 1;
  a.exclude_hv = 1;
  a.exclude_callchain_kernel = 1;
  a.sample_max_stack = kFrames;
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  a.wakeup_events = 0;
  return a;
}

double MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct Ring {
  int fd = -1;
  void* base = MAP_FAILED;
  size_t len = 0;
};

// Only the earliest fault on each page is kept (per CPU ring the order is by time, across rings it is
// not: an earlier fault seen later replaces the kept one), so memory grows with the pages touched, not
// with the faults taken.
struct Samples {
  std::unordered_map<uint64_t, size_t> byPage;
  double count = 0;  // faults of the target process
  std::vector<int32_t> pid;
  std::vector<double> time;
  std::vector<double> addr;
  std::vector<double> frames;  // kFrames per sample, 0 past the last user frame
  std::vector<uint8_t> kernel;  // 1: the fault was taken in kernel mode
  double lost = 0;
};

struct Trace {
  pid_t pid = 0;
  std::vector<Ring> rings;
  Samples samples;
  ~Trace() {
    for (Ring& r : rings) {
      if (r.base != MAP_FAILED) munmap(r.base, r.len);
      if (r.fd >= 0) close(r.fd);
    }
  }
};

std::vector<std::unique_ptr<Trace>>& Traces() {
  static std::vector<std::unique_ptr<Trace>> t;
  return t;
}

Trace& TraceOf(const Napi::CallbackInfo& info) {
  size_t h = info[0].As<Napi::Number>().Uint32Value();
  auto& all = Traces();
  if (h >= all.size() || !all[h]) throw Napi::Error::New(info.Env(), "no such fault trace (closed already?)");
  return *all[h];
}

// Copies len bytes at offset pos of the ring's data area (which may wrap) into out.
void RingCopy(const uint8_t* data, uint64_t size, uint64_t pos, void* out, size_t len) {
  uint64_t at = pos % size;
  size_t first = static_cast<size_t>(std::min<uint64_t>(len, size - at));
  memcpy(out, data + at, first);
  if (first < len) memcpy(static_cast<uint8_t*>(out) + first, data, len - first);
}

void ParseSample(const uint8_t* rec, size_t size, pid_t target, Samples& s) {
  // PERF_RECORD_SAMPLE in sample_type order: ip; pid, tid; time; addr; nr, ips[nr].
  if (size < sizeof(perf_event_header) + 5 * 8) return;
  const uint8_t* p = rec + sizeof(perf_event_header);
  uint64_t ip, time, addr, nr;
  uint32_t pid;
  memcpy(&ip, p, 8);
  memcpy(&pid, p + 8, 4);
  memcpy(&time, p + 16, 8);
  memcpy(&addr, p + 24, 8);
  memcpy(&nr, p + 32, 8);
  // An inherited event also samples the processes the target forks: those are not its copies.
  if (static_cast<pid_t>(pid) != target) return;
  s.count++;
  const uint64_t page = addr & ~static_cast<uint64_t>(PageSize() - 1);
  auto seen = s.byPage.find(page);
  if (seen != s.byPage.end() && s.time[seen->second] <= static_cast<double>(time)) return;
  const uint8_t* ips = p + 40;
  if (40 + sizeof(perf_event_header) + nr * 8 > size) nr = 0;
  double frames[kFrames] = {0, 0, 0, 0};
  int n = 0;
  bool user = false;
  for (uint64_t i = 0; i < nr && n < kFrames; i++) {
    uint64_t v;
    memcpy(&v, ips + i * 8, 8);
    if (v >= PERF_CONTEXT_MAX) {  // a context marker: what follows is user, kernel, …
      user = v == static_cast<uint64_t>(PERF_CONTEXT_USER);
      continue;
    }
    if (user) frames[n++] = static_cast<double>(v);
  }
  // A user-mode fault's ip is its first user frame; a kernel-mode one's ip is a kernel address.
  bool kernelMode = static_cast<int64_t>(ip) < 0;
  if (n == 0 && !kernelMode) frames[0] = static_cast<double>(ip);
  if (seen != s.byPage.end()) {  // an earlier fault on the page, from another CPU's ring
    size_t i = seen->second;
    s.time[i] = static_cast<double>(time);
    s.addr[i] = static_cast<double>(addr);
    for (int f = 0; f < kFrames; f++) s.frames[i * kFrames + f] = frames[f];
    s.kernel[i] = kernelMode ? 1 : 0;
    return;
  }
  s.byPage.emplace(page, s.pid.size());
  s.pid.push_back(static_cast<int32_t>(pid));
  s.time.push_back(static_cast<double>(time));
  s.addr.push_back(static_cast<double>(addr));
  for (double f : frames) s.frames.push_back(f);
  s.kernel.push_back(kernelMode ? 1 : 0);
}

void DrainRing(Ring& r, pid_t target, Samples& s) {
  auto* meta = static_cast<perf_event_mmap_page*>(r.base);
  const uint8_t* data = static_cast<const uint8_t*>(r.base) + meta->data_offset;
  const uint64_t size = meta->data_size;
  uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = meta->data_tail;
  std::vector<uint8_t> rec;
  while (tail < head) {
    perf_event_header h;
    RingCopy(data, size, tail, &h, sizeof(h));
    if (h.size < sizeof(h)) break;  // never: a record holds its header
    rec.resize(h.size);
    RingCopy(data, size, tail, rec.data(), h.size);
    if (h.type == PERF_RECORD_SAMPLE) {
      ParseSample(rec.data(), h.size, target, s);
    } else if (h.type == PERF_RECORD_LOST && h.size >= sizeof(h) + 16) {
      uint64_t lost;
      memcpy(&lost, rec.data() + sizeof(h) + 8, 8);  // { header; u64 id; u64 lost; }
      s.lost += static_cast<double>(lost);
    }
    tail += h.size;
  }
  __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

// faultTraceOpen(pid, dataPages, kernel) -> handle. One event and ring per online CPU.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint32_t pages = info[1].As<Napi::Number>().Uint32Value();
  bool kernel = info[2].As<Napi::Boolean>().Value();
  if (pages == 0 || (pages & (pages - 1))) throw Napi::Error::New(env, "ring pages must be a power of two");
  auto t = std::make_unique<Trace>();
  t->pid = pid;
  long cpus = sysconf(_SC_NPROCESSORS_CONF);
  const size_t len = (1 + pages) * PageSize();
  for (int cpu = 0; cpu < cpus; cpu++) {
    perf_event_attr a = FaultAttr(kernel);
    long fd = PerfEventOpen(&a, pid, cpu);
    if (fd < 0) {
      if (errno == ENODEV || errno == EINVAL) continue;  // an offline or absent CPU
      throw ToJsError(env, SysError{errno, "perf_event_open", "pid " + std::to_string(pid)});
    }
    Ring r;
    r.fd = static_cast<int>(fd);
    r.len = len;
    r.base = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
    int err = errno;
    t->rings.push_back(r);
    if (r.base == MAP_FAILED) throw ToJsError(env, SysError{err, "mmap", "perf ring of pid " + std::to_string(pid)});
  }
  if (t->rings.empty()) throw ToJsError(env, SysError{ENODEV, "perf_event_open", "no online CPU"});
  auto& all = Traces();
  all.push_back(std::move(t));
  return Napi::Number::New(env, static_cast<double>(all.size() - 1));
}

// Enables every event of the trace; returns CLOCK_MONOTONIC ns just before (samples' time base).
Napi::Value Enable(const Napi::CallbackInfo& info) {
  Trace& t = TraceOf(info);
  double now = MonotonicNs();
  for (Ring& r : t.rings)
    if (ioctl(r.fd, PERF_EVENT_IOC_ENABLE, 0) < 0) throw ToJsError(info.Env(), SysError{errno, "ioctl", "PERF_EVENT_IOC_ENABLE"});
  return Napi::Number::New(info.Env(), now);
}

// Moves what the rings hold into the trace's sample columns (call often enough that rings never fill).
Napi::Value Drain(const Napi::CallbackInfo& info) {
  Trace& t = TraceOf(info);
  for (Ring& r : t.rings) DrainRing(r, t.pid, t.samples);
  return Napi::Number::New(info.Env(), static_cast<double>(t.samples.pid.size()));
}

// Disables, drains a last time and returns every sample as columns; the trace stays open until close.
Napi::Value Collect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Trace& t = TraceOf(info);
  for (Ring& r : t.rings) ioctl(r.fd, PERF_EVENT_IOC_DISABLE, 0);
  for (Ring& r : t.rings) DrainRing(r, t.pid, t.samples);
  Samples& s = t.samples;
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", ToTypedArray<Napi::Int32Array>(env, s.pid));
  out.Set("time", ToTypedArray<Napi::Float64Array>(env, s.time));
  out.Set("addr", ToTypedArray<Napi::Float64Array>(env, s.addr));
  out.Set("frames", ToTypedArray<Napi::Float64Array>(env, s.frames));
  out.Set("kernel", ToTypedArray<Napi::Uint8Array>(env, s.kernel));
  out.Set("lost", Napi::Number::New(env, s.lost));
  out.Set("count", Napi::Number::New(env, s.count));
  out.Set("framesPerSample", Napi::Number::New(env, kFrames));
  t.samples = Samples();
  return out;
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  size_t h = info[0].As<Napi::Number>().Uint32Value();
  auto& all = Traces();
  if (h < all.size()) all[h].reset();
  return info.Env().Undefined();
}

// Can this process open the event (on itself) with kernel-mode faults included? 0, or the errno.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  bool kernel = info[0].As<Napi::Boolean>().Value();
  perf_event_attr a = FaultAttr(kernel);
  long fd = PerfEventOpen(&a, 0, -1);
  if (fd < 0) return Napi::Number::New(info.Env(), errno);
  close(static_cast<int>(fd));
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value Monotonic(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), MonotonicNs()); }

}  // namespace

void InitFaults(Napi::Env env, Napi::Object exports) {
  exports.Set("faultTraceOpen", Napi::Function::New(env, Open));
  exports.Set("faultTraceEnable", Napi::Function::New(env, Enable));
  exports.Set("faultTraceDrain", Napi::Function::New(env, Drain));
  exports.Set("faultTraceCollect", Napi::Function::New(env, Collect));
  exports.Set("faultTraceClose", Napi::Function::New(env, Close));
  exports.Set("faultTraceProbe", Napi::Function::New(env, Probe));
  exports.Set("monotonicNs", Napi::Function::New(env, Monotonic));
}

}  // namespace cowscope
