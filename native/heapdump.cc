// Heap map ingest: one streaming pass over ObjectSpace.dump_all output (one JSON object per line),
// never parsed as a whole. Keys are found with memmem in each line; JSON escaping keeps a key from
// matching inside a string value (a quote there is always preceded by a backslash).
//
// It returns the GC heap pages (bodies) of every slot, and a column table of the objects blame needs:
// those in the 4 KiB pages listed in keepPages (the copied pages), every class and module (for names),
// every iseq (for call-site discovery) and every escaped block environment (imemo env: its flags word
// is rewritten by marking), sorted by address; and what the T_DATA objects of some types reference (their
// own contents, which the VM hides from the program: a Queue's items).

#include <napi.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace cowscope {
namespace {

// The dump's type names and imemo type names become codes through tables the caller passes in (the
// runtime's version row owns them); the ingest only needs to know which names mark classes, iseqs and
// free slots. contents: the data types ("struct" of a T_DATA line) whose references are the object's own
// contents (a Queue's items, in a hidden Array), listed whatever the pages.
struct Codes {
  std::unordered_map<std::string, uint8_t> types, imemo;
  std::vector<std::string> contents;
  uint8_t none = 0xfe, klass = 0xfe, module = 0xfe, iclass = 0xfe, imemoType = 0xfe, iseq = 0xfe, env = 0xfe, data = 0xfe;
};

Codes CodesFrom(Napi::Object types, Napi::Object imemo, Napi::Value contents) {
  Codes c;
  if (contents.IsArray()) {
    Napi::Array a = contents.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++)
      if (a.Get(i).IsString()) c.contents.push_back(a.Get(i).As<Napi::String>());
  }
  auto fill = [](Napi::Object o, std::unordered_map<std::string, uint8_t>& into) {
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string k = keys.Get(i).As<Napi::String>();
      into[k] = static_cast<uint8_t>(o.Get(k).As<Napi::Number>().Uint32Value());
    }
  };
  fill(types, c.types);
  fill(imemo, c.imemo);
  auto at = [](const std::unordered_map<std::string, uint8_t>& m, const char* k) { auto it = m.find(k); return it == m.end() ? uint8_t{0xfe} : it->second; };
  c.none = at(c.types, "NONE");
  c.klass = at(c.types, "CLASS");
  c.module = at(c.types, "MODULE");
  c.iclass = at(c.types, "ICLASS");
  c.imemoType = at(c.types, "IMEMO");
  c.iseq = at(c.imemo, "iseq");
  c.env = at(c.imemo, "env");
  c.data = at(c.types, "DATA");
  return c;
}

constexpr uint8_t kUnknown = 0xff;

// GC flags of the dump's "flags" object, as bits.
const std::pair<const char*, uint8_t> kGcFlags[] = {{"\"wb_protected\":true", 1}, {"\"old\":true", 2},
                                                    {"\"uncollectible\":true", 4}, {"\"marking\":true", 8},
                                                    {"\"marked\":true", 16},     {"\"pinned\":true", 32}};

// The keys of one line, found as far as asked: every colon right after a quoted name, with the name's
// opening quote, indexed from the line's start up to the first entry a lookup matches. A key's lookup
// ("name":rest, as memmem would find its first occurrence) then compares entries instead of searching the
// line again: the ingest looks up ~20 keys per line, and glibc's memmem, which sets up a table per call,
// cost two thirds of it. Indexing only as far as asked: the first look at every line wants its address,
// type and slot size, which CRuby writes first; indexing the whole line (its value, references and flags)
// was half of that look.
class Keys {
 public:
  void Index(const char* b, const char* e) {
    keys_.clear();
    b_ = b;
    e_ = e;
    next_ = b;
  }
  // Where key ends in [b, e), at its first occurrence (nullptr: absent). key is "name":rest; the name
  // holds no quote or colon, so an occurrence's colon is an entry whose name starts where the key does.
  const char* Find(const char* b, const char* e, const char* key, size_t len) {
    const char* colon = static_cast<const char*>(memchr(key, ':', len));
    if (!colon) {
      const void* p = memmem(b, static_cast<size_t>(e - b), key, len);
      return p ? static_cast<const char*>(p) + len : nullptr;
    }
    const ptrdiff_t name = colon - key;
    for (size_t i = 0; i < keys_.size() || More(); i++) {
      const Entry k = keys_[i];
      if (k.colon - name < b || k.colon - k.open != name) continue;
      if (k.colon + (static_cast<ptrdiff_t>(len) - name) > e) break;  // colons come in order
      if (memcmp(k.open, key, len) == 0) return k.open + len;
    }
    return nullptr;
  }
  template <size_t N>
  const char* Find(const char* b, const char* e, const char (&key)[N]) {
    return Find(b, e, key, N - 1);
  }

 private:
  // Indexes the line's next entry; false at its end.
  bool More() {
    for (const char* q = next_; q < e_ && (q = static_cast<const char*>(memchr(q, ':', static_cast<size_t>(e_ - q)))); q++) {
      if (q - b_ < 2 || q[-1] != '"') continue;
      const char* open = q - 2;
      while (open > b_ && *open != '"') open--;
      if (*open == '"') {
        keys_.push_back({open, q});
        next_ = q + 1;
        return true;
      }
    }
    next_ = e_;
    return false;
  }
  struct Entry {
    const char* open;
    const char* colon;
  };
  std::vector<Entry> keys_;
  const char* b_ = nullptr;
  const char* e_ = nullptr;
  const char* next_ = nullptr;  // where indexing goes on
};

// A JSON string's raw text up to its closing quote (escapes kept as they are).
std::string StringAt(const char* p, const char* e) {
  const char* q = p;
  while (q < e && *q != '"') q += (*q == '\\') ? 2 : 1;
  return std::string(p, std::min(q, e));
}

bool HexAt(const char* p, const char* e, uint64_t& out) {
  if (e - p < 3 || p[0] != '0' || p[1] != 'x') return false;
  uint64_t v = 0;
  int digits = 0;
  for (p += 2; p < e && digits < 17; p++, digits++) {
    const char c = *p;
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  if (!digits || digits > 16 || p >= e || *p != '"') return false;
  out = v;
  return true;
}

double NumberAt(const char* p, const char* e) {
  double v = 0;
  while (p < e && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  return v;
}

struct Table {
  std::vector<double> address, classAddr, bytesize;
  std::vector<uint8_t> type, imemo, gcFlags, embedded;
  std::vector<uint16_t> slotSize;
  std::vector<int32_t> site;
  std::vector<double> nameAddr;
  std::vector<std::string> names;
  std::vector<std::string> sites;
  std::unordered_map<std::string, int32_t> siteIndex;
  // (reference, owner): the objects a T_DATA of a Codes::contents type references, each with that T_DATA
  std::vector<std::pair<double, double>> contents;
};

struct Counts {
  double lines = 0, objects = 0, free = 0, malformed = 0;
};

class Ingest {
 public:
  Ingest(uint64_t heapPageSize, std::vector<uint64_t> keepPages, uint64_t defaultSlot, Codes codes, bool keepAll = false)
      : hps_(heapPageSize), keep_(std::move(keepPages)), ps_(PageSize()), defaultSlot_(defaultSlot), codes_(std::move(codes)), keepAll_(keepAll) {}

  // What the first look at a line finds: enough to count it and to decide whether to keep it.
  struct Scan {
    uint64_t addr = 0, slot = 0;
    uint8_t type = kUnknown, imemo = kUnknown;
    bool object = false;  // an object with an address (not a ROOT, SHAPE or malformed line)
    bool always = false;  // kept whatever the pages: classes, modules, iseqs, block environments
  };

  void Line(const char* b, const char* e) {
    const Scan sc = ScanLine(b, e);
    if (sc.object && (keepAll_ || sc.always || Kept(sc.addr, sc.slot))) Row(b, e, sc);
  }

  // A slot can straddle two 4 KiB pages (4096 is no multiple of 40): kept when either page is.
  bool Kept(uint64_t addr, uint64_t slot) const {
    return std::binary_search(keep_.begin(), keep_.end(), addr & ~(ps_ - 1)) || (slot && std::binary_search(keep_.begin(), keep_.end(), (addr + slot - 1) & ~(ps_ - 1)));
  }
  void SetKeep(std::vector<uint64_t> keep) { keep_ = std::move(keep); }

  // Counts the line and notes its GC heap page.
  Scan ScanLine(const char* b, const char* e) {
    Scan sc;
    if (b == e) return sc;
    counts_.lines++;
    if (*b != '{' || e[-1] != '}') {
      counts_.malformed++;
      return sc;
    }
    keys_.Index(b, e);
    const char* a = keys_.Find(b, e, "\"address\":\"");
    if (!a) return sc;  // ROOT records carry no address
    uint64_t addr;
    if (!HexAt(a, e, addr)) {
      counts_.malformed++;
      return sc;
    }
    const char* t = keys_.Find(b, e, "\"type\":\"");
    const std::string typeName = t ? StringAt(t, e) : "";
    if (typeName == "SHAPE") return sc;  // 3.2+ shape records carry an address outside the GC heap
    counts_.objects++;
    const uint8_t type = t ? Code(codes_.types, typeName) : kUnknown;
    if (type == codes_.none) counts_.free++;
    const uint64_t body = addr & ~(hps_ - 1);
    if (body != lastBody_) bodies_.push_back(body);
    lastBody_ = body;

    uint8_t imemo = kUnknown;
    if (type == codes_.imemoType) {
      const char* im = keys_.Find(b, e, "\"imemo_type\":\"");
      if (im) imemo = Code(codes_.imemo, StringAt(im, e));
    }
    const bool named = type == codes_.klass || type == codes_.module || type == codes_.iclass;
    const char* ss0 = keys_.Find(b, e, "\"slot_size\":");
    sc.addr = addr;
    sc.slot = ss0 ? static_cast<uint64_t>(NumberAt(ss0, e)) : defaultSlot_;
    sc.type = type;
    sc.imemo = imemo;
    sc.object = true;
    sc.always = named || imemo == codes_.iseq || imemo == codes_.env;
    if (type == codes_.data && !codes_.contents.empty()) Contents(b, e, addr);
    return sc;
  }

  // A T_DATA of a contents type: its references, as (reference, owner) rows. At the first look, so that a
  // followed map has them whatever pick keeps.
  void Contents(const char* b, const char* e, uint64_t addr) {
    const char* st = keys_.Find(b, e, "\"struct\":\"");
    if (!st || std::find(codes_.contents.begin(), codes_.contents.end(), StringAt(st, e)) == codes_.contents.end()) return;
    const char* r = keys_.Find(b, e, "\"references\":[");
    if (!r) return;
    const char* end = static_cast<const char*>(memchr(r, ']', static_cast<size_t>(e - r)));
    if (!end) return;
    for (const char* q = r; q < end && (q = static_cast<const char*>(memchr(q, '"', static_cast<size_t>(end - q)))); q++) {
      uint64_t ref;
      if (HexAt(q + 1, end, ref)) table_.contents.emplace_back(static_cast<double>(ref), static_cast<double>(addr));
      q = static_cast<const char*>(memchr(q + 1, '"', static_cast<size_t>(end - q - 1)));  // the closing quote
      if (!q) break;
    }
  }

  // The object's row in the table.
  void Row(const char* b, const char* e, const Scan& sc) {
    keys_.Index(b, e);  // (again when the line was just scanned: a pick parses lines scanned long before)
    const uint64_t addr = sc.addr;
    const uint8_t type = sc.type;
    const uint8_t imemo = sc.imemo;
    const bool named = type == codes_.klass || type == codes_.module || type == codes_.iclass;
    table_.address.push_back(static_cast<double>(addr));
    table_.type.push_back(type);
    table_.imemo.push_back(imemo);
    uint64_t cls = 0;
    const char* c = keys_.Find(b, e, "\"class\":\"");
    if (c) HexAt(c, e, cls);
    table_.classAddr.push_back(static_cast<double>(cls));
    const char* ss = keys_.Find(b, e, "\"slot_size\":");
    table_.slotSize.push_back(ss ? static_cast<uint16_t>(NumberAt(ss, e)) : 0);
    const char* bs = keys_.Find(b, e, "\"bytesize\":");
    table_.bytesize.push_back(bs ? NumberAt(bs, e) : -1);
    table_.embedded.push_back(keys_.Find(b, e, "\"embedded\":true") ? 1 : 0);
    uint8_t gc = 0;
    const char* f = keys_.Find(b, e, "\"flags\":{");
    if (f) {
      const char* fe = static_cast<const char*>(memchr(f, '}', static_cast<size_t>(e - f)));
      if (fe)
        for (const auto& [key, bit] : kGcFlags)
          if (keys_.Find(f, fe, key, strlen(key))) gc |= bit;
    }
    table_.gcFlags.push_back(gc);
    int32_t site = -1;
    const char* file = keys_.Find(b, e, "\"file\":\"");
    const char* line = keys_.Find(b, e, "\"line\":");
    if (file && line) {
      std::string where = StringAt(file, e) + ":" + std::to_string(static_cast<long>(NumberAt(line, e)));
      auto it = table_.siteIndex.find(where);
      if (it == table_.siteIndex.end()) {
        site = static_cast<int32_t>(table_.sites.size());
        table_.siteIndex.emplace(where, site);
        table_.sites.push_back(std::move(where));
      } else {
        site = it->second;
      }
    }
    table_.site.push_back(site);
    if (named) {
      const char* n = keys_.Find(b, e, "\"name\":\"");
      if (n) {
        table_.nameAddr.push_back(static_cast<double>(addr));
        table_.names.push_back(StringAt(n, e));
      }
    }
  }

  std::vector<uint64_t> Bodies() {
    std::sort(bodies_.begin(), bodies_.end());
    bodies_.erase(std::unique(bodies_.begin(), bodies_.end()), bodies_.end());
    return bodies_;
  }
  // Reorders the object columns by address, so consumers can binary-search them.
  void SortByAddress() {
    Table& t = table_;
    std::vector<size_t> order(t.address.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.address[a] < t.address[b]; });
    auto apply = [&](auto& column) {
      auto copy = column;
      for (size_t i = 0; i < order.size(); i++) column[i] = copy[order[i]];
    };
    apply(t.address);
    apply(t.classAddr);
    apply(t.bytesize);
    apply(t.type);
    apply(t.imemo);
    apply(t.gcFlags);
    apply(t.embedded);
    apply(t.slotSize);
    apply(t.site);
  }
  Table& table() { return table_; }
  const Counts& counts() const { return counts_; }

 private:
  static uint8_t Code(const std::unordered_map<std::string, uint8_t>& codes, const std::string& name) {
    auto it = codes.find(name);
    return it == codes.end() ? kUnknown : it->second;
  }

  uint64_t hps_;
  std::vector<uint64_t> keep_;
  size_t ps_;
  uint64_t defaultSlot_;
  Codes codes_;
  bool keepAll_;
  std::vector<uint64_t> bodies_;
  uint64_t lastBody_ = ~0ULL;
  Table table_;
  Counts counts_;
  Keys keys_;  // of the line being read
};

// Splits bytes into lines for the ingest; a line cut by the end of a read is carried to the next.
class LineSplitter {
 public:
  void Feed(const char* p, const char* end, Ingest& ingest) {
    while (p < end) {
      const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!nl) {
        carry_.append(p, end);
        return;
      }
      if (!carry_.empty()) {
        carry_.append(p, nl);
        ingest.Line(carry_.data(), carry_.data() + carry_.size());
        carry_.clear();
      } else {
        ingest.Line(p, nl);
      }
      p = nl + 1;
    }
  }
  void Finish(Ingest& ingest) {
    if (!carry_.empty()) ingest.Line(carry_.data(), carry_.data() + carry_.size());
    carry_.clear();
  }

 private:
  std::string carry_;
};

constexpr size_t kReadBuffer = 1 << 20;

void ReadLines(const std::string& path, Ingest& ingest, uint64_t maxBytes) {
  Fd fd(path);
  std::vector<char> buf(kReadBuffer);
  LineSplitter lines;
  uint64_t total = 0;
  for (;;) {
    ssize_t n;
    do n = read(fd.get(), buf.data(), buf.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) throw SysError{errno, "read", path};
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > maxBytes) throw SysError{EFBIG, "read", path};  // grew past the limit checked before
    lines.Feed(buf.data(), buf.data() + n, ingest);
  }
  lines.Finish(ingest);
}

Napi::Array ToStrings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, v[i]));
  return a;
}

// The JS object of an ingest: bodies, counts, the object table and the names.
Napi::Object ResultOf(Napi::Env env, Ingest& ingest) {
  Table& t = ingest.table();
  const Counts& c = ingest.counts();
  Napi::Object objects = Napi::Object::New(env);
  objects.Set("address", ToTypedArray<Napi::Float64Array>(env, t.address));
  objects.Set("type", ToTypedArray<Napi::Uint8Array>(env, t.type));
  objects.Set("imemo", ToTypedArray<Napi::Uint8Array>(env, t.imemo));
  objects.Set("gcFlags", ToTypedArray<Napi::Uint8Array>(env, t.gcFlags));
  objects.Set("slotSize", ToTypedArray<Napi::Uint16Array>(env, t.slotSize));
  objects.Set("bytesize", ToTypedArray<Napi::Float64Array>(env, t.bytesize));
  objects.Set("embedded", ToTypedArray<Napi::Uint8Array>(env, t.embedded));
  objects.Set("classAddr", ToTypedArray<Napi::Float64Array>(env, t.classAddr));
  objects.Set("site", ToTypedArray<Napi::Int32Array>(env, t.site));
  Napi::Object names = Napi::Object::New(env);
  names.Set("address", ToTypedArray<Napi::Float64Array>(env, t.nameAddr));
  names.Set("name", ToStrings(env, t.names));
  Napi::Object out = Napi::Object::New(env);
  out.Set("bodies", ToTypedArray<Napi::Float64Array>(env, ingest.Bodies()));
  out.Set("lines", Napi::Number::New(env, c.lines));
  out.Set("objects", Napi::Number::New(env, c.objects));
  out.Set("free", Napi::Number::New(env, c.free));
  out.Set("malformed", Napi::Number::New(env, c.malformed));
  out.Set("table", objects);
  out.Set("classNames", names);
  // the contents rows, by reference (an object held by two is listed with each)
  std::sort(t.contents.begin(), t.contents.end());
  Napi::Object contents = Napi::Object::New(env);
  std::vector<double> ref(t.contents.size()), owner(t.contents.size());
  for (size_t i = 0; i < t.contents.size(); i++) std::tie(ref[i], owner[i]) = t.contents[i];
  contents.Set("address", ToTypedArray<Napi::Float64Array>(env, ref));
  contents.Set("owner", ToTypedArray<Napi::Float64Array>(env, owner));
  out.Set("contents", contents);
  out.Set("sites", ToStrings(env, t.sites));
  return out;
}

// ingestHeapDump(path, heapPageSize, keepPages: Float64Array sorted 4 KiB page addresses, slotSize,
//                typeCodes: {NAME: code}, imemoCodes: {name: code}[, maxBytes[, keepAll[, contents]]]) ->
//   (keepAll: every object is kept, whatever keepPages says: a map parsed once and filtered per use;
//    contents: data type names, Codes::contents)
//   { bodies, lines, objects, free, malformed,
//     objects table: { address, type, imemo, gcFlags, slotSize, bytesize, embedded, classAddr, site },
//     classNames: { address, name }, sites: [ "file:line" ], contents: { address, owner } }
Napi::Value IngestHeapDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsTypedArray() || !info[3].IsNumber() ||
      !info[4].IsObject() || !info[5].IsObject())
    throw Napi::TypeError::New(env, "ingestHeapDump(path, heapPageSize, keepPages, slotSize, typeCodes, imemoCodes)");
  const std::string path = info[0].As<Napi::String>();
  const uint64_t hps = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  if (!hps || (hps & (hps - 1))) throw Napi::RangeError::New(env, "heapPageSize must be a power of two");
  Napi::Float64Array keepArg = info[2].As<Napi::Float64Array>();
  std::vector<uint64_t> keep(keepArg.ElementLength());
  for (size_t i = 0; i < keep.size(); i++) keep[i] = static_cast<uint64_t>(keepArg[i]);
  std::sort(keep.begin(), keep.end());
  // The slot size of dumps without slot_size (3.1): 40 bytes unless told otherwise.
  const uint64_t defaultSlot = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
  const uint64_t maxBytes = info.Length() > 6 && info[6].IsNumber() ? static_cast<uint64_t>(info[6].As<Napi::Number>().DoubleValue()) : ~0ULL;
  const bool keepAll = info.Length() > 7 && info[7].IsBoolean() && info[7].As<Napi::Boolean>().Value();
  Ingest ingest(hps, std::move(keep), defaultSlot, CodesFrom(info[4].As<Napi::Object>(), info[5].As<Napi::Object>(), info[8]), keepAll);
  try {
    ReadLines(path, ingest, maxBytes);
  } catch (const SysError& se) {
    throw ToJsError(env, se);
  }
  ingest.SortByAddress();
  return ResultOf(env, ingest);
}

// Following a heap map while its writer (the agent's sibling fork) writes it, so that reading overlaps
// dump_all instead of following it. Which pages matter is known only later (after the children ran), so
// the reader, on the libuv thread pool, takes a first look at every line as it comes (counts, GC heap
// pages, address, type) and notes where each object's line is; pick(keepPages) then parses in full,
// from the file mapped in memory, the lines ingestHeapDump would have kept, in file order: the same
// result as ingestHeapDump(path, …, keepPages), without reading the file a second time.
//
// The writer's end comes from outside: the agent reports the map once its sibling exited, and cowscope
// calls finish(); the reader then reads to the end of the file and stops. Anything unusual (the file
// never appears, is not a regular file, grows past maxBytes, a read fails, cancel()) ends it with null:
// the caller reads the finished file the ordinary way, with its checks and messages.
enum FollowState : int { kFollowing = 0, kFinish = 1, kCancel = 2 };

struct Followed {
  struct Line {
    uint64_t offset;
    uint32_t length;
    Ingest::Scan scan;
  };
  Followed(uint64_t hps, uint64_t defaultSlot, Codes codes) : ingest(hps, {}, defaultSlot, std::move(codes)) {}
  ~Followed() { Close(); }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  std::atomic<int> state{kFollowing};
  Ingest ingest;
  std::vector<Line> lines;  // the objects' lines, in file order
  int fd = -1;
  uint64_t total = 0, ino = 0;
  bool ok = false;
};

class FollowWorker : public Napi::AsyncWorker {
 public:
  FollowWorker(Napi::Env env, std::string path, std::shared_ptr<Followed> f, uint64_t maxBytes)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)), f_(std::move(f)), maxBytes_(maxBytes) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    f_->ok = Follow();
    if (!f_->ok) {
      f_->lines = {};
      f_->Close();
    }
  }
  void OnOK() override {
    if (!f_->ok) {
      deferred_.Resolve(Env().Null());
      return;
    }
    Napi::Object out = Napi::Object::New(Env());
    out.Set("ino", Napi::Number::New(Env(), static_cast<double>(f_->ino)));
    out.Set("bytes", Napi::Number::New(Env(), static_cast<double>(f_->total)));
    deferred_.Resolve(out);
  }

 private:
  static void Nap() {
    const timespec ms{0, 1000 * 1000};
    nanosleep(&ms, nullptr);
  }

  bool Follow() {
    for (;;) {  // the writer creates the file
      const int st = f_->state.load();
      f_->fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (f_->fd >= 0) break;
      if (errno != ENOENT || st != kFollowing) return false;
      Nap();
    }
    struct stat sb;
    if (fstat(f_->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return false;
    f_->ino = sb.st_ino;
    std::vector<char> buf(kReadBuffer);
    std::string carry;
    uint64_t carryAt = 0;
    for (;;) {
      // The state is read before the read: finish() comes after the writer exited, so a read that
      // starts after it saw finish and finds nothing is at the real end.
      const int st = f_->state.load();
      if (st == kCancel) return false;
      ssize_t n;
      do n = read(f_->fd, buf.data(), buf.size());
      while (n < 0 && errno == EINTR);
      if (n < 0) return false;
      if (n == 0) {
        if (st == kFinish) break;
        Nap();
        continue;
      }
      const uint64_t base = f_->total;
      f_->total += static_cast<uint64_t>(n);
      if (f_->total > maxBytes_) return false;
      const char* p = buf.data();
      const char* end = p + n;
      while (p < end) {
        const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
        if (!nl) {
          if (carry.empty()) carryAt = base + static_cast<uint64_t>(p - buf.data());
          carry.append(p, end);
          break;
        }
        if (!carry.empty()) {
          carry.append(p, nl);
          Note(carry.data(), carry.data() + carry.size(), carryAt);
          carry.clear();
        } else {
          Note(p, nl, base + static_cast<uint64_t>(p - buf.data()));
        }
        p = nl + 1;
      }
    }
    if (!carry.empty()) Note(carry.data(), carry.data() + carry.size(), carryAt);
    return true;
  }

  void Note(const char* b, const char* e, uint64_t offset) {
    const Ingest::Scan sc = f_->ingest.ScanLine(b, e);
    if (sc.object) f_->lines.push_back({offset, static_cast<uint32_t>(e - b), sc});
  }

  Napi::Promise::Deferred deferred_;
  std::string path_;
  std::shared_ptr<Followed> f_;
  uint64_t maxBytes_;
};

// The kept lines of a followed map, parsed in full from the file mapped in memory.
Napi::Value PickFollowed(Napi::Env env, Followed& f, std::vector<uint64_t> keep) {
  if (!f.ok) throw Napi::Error::New(env, "pick: the map was not followed to its end");
  std::sort(keep.begin(), keep.end());
  Ingest& ingest = f.ingest;
  ingest.SetKeep(std::move(keep));
  if (f.total) {
    void* map = mmap(nullptr, f.total, PROT_READ, MAP_PRIVATE, f.fd, 0);
    if (map == MAP_FAILED) throw ToJsError(env, SysError{errno, "mmap", "the heap map"});
    const char* text = static_cast<const char*>(map);
    for (const Followed::Line& l : f.lines)
      if (l.scan.always || ingest.Kept(l.scan.addr, l.scan.slot)) ingest.Row(text + l.offset, text + l.offset + l.length, l.scan);
    munmap(map, f.total);
  }
  ingest.SortByAddress();
  return ResultOf(env, ingest);
}

// followHeapDump(path, heapPageSize, slotSize, typeCodes, imemoCodes, maxBytes[, contents]) ->
//   { done: Promise<{ ino, bytes } | null>, finish(), cancel(), pick(keepPages) -> ingestHeapDump's result,
//     release() }: pick once, after done resolved with the map; release() after done, instead of pick
Napi::Value FollowHeapDump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsObject() || !info[4].IsObject() || !info[5].IsNumber())
    throw Napi::TypeError::New(env, "followHeapDump(path, heapPageSize, slotSize, typeCodes, imemoCodes, maxBytes)");
  const uint64_t hps = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  if (!hps || (hps & (hps - 1))) throw Napi::RangeError::New(env, "heapPageSize must be a power of two");
  auto f = std::make_shared<Followed>(hps, static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue()), CodesFrom(info[3].As<Napi::Object>(), info[4].As<Napi::Object>(), info[6]));
  auto* worker = new FollowWorker(env, info[0].As<Napi::String>(), f, static_cast<uint64_t>(info[5].As<Napi::Number>().DoubleValue()));
  Napi::Object out = Napi::Object::New(env);
  out.Set("done", worker->Promise());
  // finish() after cancel() keeps it cancelled
  out.Set("finish", Napi::Function::New(env, [f](const Napi::CallbackInfo&) {
            int expected = kFollowing;
            f->state.compare_exchange_strong(expected, kFinish);
          }));
  out.Set("cancel", Napi::Function::New(env, [f](const Napi::CallbackInfo&) { f->state.store(kCancel); }));
  // only once done resolved (the reader is gone): the file closed and what was read dropped
  out.Set("release", Napi::Function::New(env, [f](const Napi::CallbackInfo&) {
            f->ok = false;
            f->lines = {};
            f->Close();
          }));
  out.Set("pick", Napi::Function::New(env, [f](const Napi::CallbackInfo& ci) -> Napi::Value {
            if (ci.Length() < 1 || !ci[0].IsTypedArray()) throw Napi::TypeError::New(ci.Env(), "pick(keepPages: Float64Array)");
            Napi::Float64Array k = ci[0].As<Napi::Float64Array>();
            std::vector<uint64_t> keep(k.ElementLength());
            for (size_t i = 0; i < keep.size(); i++) keep[i] = static_cast<uint64_t>(k[i]);
            Napi::Value out = PickFollowed(ci.Env(), *f, std::move(keep));
            f->ok = false;  // once: the table is spent
            f->lines = {};
            f->Close();
            return out;
          }));
  worker->Queue();
  return out;
}

}  // namespace

void InitHeapDump(Napi::Env env, Napi::Object exports) {
  exports.Set("ingestHeapDump", Napi::Function::New(env, IngestHeapDump));
  exports.Set("followHeapDump", Napi::Function::New(env, FollowHeapDump));
}

}  // namespace cowscope
