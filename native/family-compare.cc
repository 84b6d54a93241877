// A parent's copied pages compared with several children at once: each parent page is read once for
// every child that copied it, not once per child (the workers of a master copy mostly the same pages:
// four Rails workers copy ~6,700 pages each, ~6,900 in all). The union of the children's pages is cut
// into slices, each compared on the thread pool; every child's result is what comparePages(parent,
// child, its pages) gives (probe.cc), slice by slice: page statuses, and the changed words with the
// page's index in that child's list.

#include <napi.h>

#include "common.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace cowscope {
namespace {

enum Status : uint8_t { kOk = 0, kDiffers = 1, kNotPresentA = 2, kNotPresentB = 3, kUnreadable = 4 };

// One child's part of a slice: its pages [from, to) of its own list.
struct ChildPart {
  int pid;
  const std::vector<uint64_t>* addrs;  // the child's whole list, sorted
  size_t from, to;
  std::vector<uint8_t> status;
  std::vector<uint32_t> wPage;
  std::vector<uint16_t> wOff;
  std::vector<uint64_t> wOld, wNew;
};

struct Slice {
  int parent;
  std::vector<uint64_t> pages;  // the union's pages of this slice, sorted
  std::vector<ChildPart> children;
};

// Compares one slice, a batch of union pages at a time (memory stays bounded): the parent's present
// pages are read once, then each child's pages of the batch, compared word by word.
void CompareSlice(Slice& s) {
  const size_t ps = PageSize();
  constexpr size_t kBatch = 1024;
  const std::vector<uint8_t> presentA = PresentMaskOf(s.parent, s.pages);
  std::vector<uint8_t> bufA(kBatch * ps), bufB(kBatch * ps);
  std::vector<std::vector<uint8_t>> presentB;
  for (ChildPart& c : s.children) {
    presentB.push_back(PresentMaskOf(c.pid, std::vector<uint64_t>(c.addrs->begin() + c.from, c.addrs->begin() + c.to)));
    c.status.assign(c.to - c.from, kOk);
  }
  std::vector<size_t> next(s.children.size(), 0);  // each child's next page, relative to from
  for (size_t b = 0; b < s.pages.size(); b += kBatch) {
    const size_t m = std::min(kBatch, s.pages.size() - b);
    const std::vector<uint64_t> sub(s.pages.begin() + b, s.pages.begin() + b + m);
    const std::vector<uint8_t> wantA(presentA.begin() + b, presentA.begin() + b + m);
    std::vector<uint8_t> stA(m, kOk);
    ReadPresentPages(s.parent, sub, wantA, bufA.data(), stA, /*tap=*/false);
    for (size_t ci = 0; ci < s.children.size(); ci++) {
      ChildPart& c = s.children[ci];
      // the child's pages in this batch, and where each is in the batch
      std::vector<uint64_t> mine;
      std::vector<size_t> at, rel;
      for (size_t& k = next[ci]; k < c.to - c.from; k++) {
        const uint64_t a = (*c.addrs)[c.from + k];
        if (a > sub.back()) break;
        mine.push_back(a);
        at.push_back(static_cast<size_t>(std::lower_bound(sub.begin(), sub.end(), a) - sub.begin()));
        rel.push_back(k);
      }
      std::vector<uint8_t> want(mine.size()), stB(mine.size(), kOk);
      for (size_t j = 0; j < mine.size(); j++) {
        const size_t k = rel[j];
        if (!wantA[at[j]]) c.status[k] = kNotPresentA;
        else if (!presentB[ci][k]) c.status[k] = kNotPresentB;
        else if (stA[at[j]] != kOk) c.status[k] = stA[at[j]];
        want[j] = c.status[k] == kOk;
      }
      ReadPresentPages(c.pid, mine, want, bufB.data(), stB, /*tap=*/false);
      for (size_t j = 0; j < mine.size(); j++) {
        const size_t k = rel[j];
        if (!want[j]) continue;
        if (stB[j] != kOk) {
          c.status[k] = stB[j];
          continue;
        }
        const uint8_t* pa = bufA.data() + at[j] * ps;
        const uint8_t* pb = bufB.data() + j * ps;
        if (memcmp(pa, pb, ps) == 0) continue;
        c.status[k] = kDiffers;
        const uint64_t* wa = reinterpret_cast<const uint64_t*>(pa);
        const uint64_t* wb = reinterpret_cast<const uint64_t*>(pb);
        for (size_t w = 0; w < ps / 8; w++) {
          if (wa[w] == wb[w]) continue;
          c.wPage.push_back(static_cast<uint32_t>(c.from + k));
          c.wOff.push_back(static_cast<uint16_t>(w * 8));
          c.wOld.push_back(wa[w]);
          c.wNew.push_back(wb[w]);
        }
      }
    }
  }
}

template <typename TA, typename T>
TA Typed(Napi::Env env, const std::vector<T>& v) {
  TA a = TA::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

class SliceWorker : public Napi::AsyncWorker {
 public:
  SliceWorker(Napi::Env env, std::shared_ptr<std::vector<std::vector<uint64_t>>> addrs, Slice s)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), addrs_(std::move(addrs)), s_(std::move(s)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      CompareSlice(s_);
    } catch (const SysError& se) {
      error_ = se;
      SetError(se.Message());
    }
  }
  // [{ from, status, wordPage, wordOffset, oldWord, newWord }] per child
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array out = Napi::Array::New(env, s_.children.size());
    for (size_t i = 0; i < s_.children.size(); i++) {
      const ChildPart& c = s_.children[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("from", Napi::Number::New(env, static_cast<double>(c.from)));
      o.Set("status", Typed<Napi::Uint8Array>(env, c.status));
      o.Set("wordPage", Typed<Napi::Uint32Array>(env, c.wPage));
      o.Set("wordOffset", Typed<Napi::Uint16Array>(env, c.wOff));
      o.Set("oldWord", Typed<Napi::BigUint64Array>(env, c.wOld));
      o.Set("newWord", Typed<Napi::BigUint64Array>(env, c.wNew));
      out.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), error_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<std::vector<std::vector<uint64_t>>> addrs_;  // the children's lists, alive while slices run
  Slice s_;
  SysError error_{0, "", ""};
};

// compareFamilySlicesAsync(parent, children: number[], addrs: Float64Array[] (sorted, page-aligned),
// slices) -> Promise<{ from, status, wordPage, wordOffset, oldWord, newWord }[]>[]: one promise per
// slice of the union of the lists, each with every child's part (its pages from `from` on).
// native/probe.ts joins the parts into one comparison per child.
Napi::Value CompareFamilySlicesAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int parent = ArgPid(info, 0);
  if (info.Length() < 4 || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsNumber())
    throw Napi::TypeError::New(env, "compareFamilySlicesAsync(parent, children[], addrs[], slices)");
  Napi::Array pidsArg = info[1].As<Napi::Array>();
  Napi::Array addrsArg = info[2].As<Napi::Array>();
  if (pidsArg.Length() != addrsArg.Length()) throw Napi::RangeError::New(env, "one list of pages per child");
  const size_t ps = PageSize();
  std::vector<int> pids;
  auto lists = std::make_shared<std::vector<std::vector<uint64_t>>>();
  std::vector<uint64_t> all;
  for (uint32_t i = 0; i < pidsArg.Length(); i++) {
    Napi::Value p = pidsArg.Get(i), a = addrsArg.Get(i);
    if (!p.IsNumber() || p.As<Napi::Number>().Int32Value() <= 0) throw Napi::TypeError::New(env, "children must be pids");
    if (!a.IsTypedArray() || a.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) throw Napi::TypeError::New(env, "addrs must be Float64Arrays");
    std::vector<uint64_t> l = ToU64(a.As<Napi::Float64Array>());
    for (size_t k = 0; k < l.size(); k++)
      if (l[k] % ps || (k && l[k] <= l[k - 1])) throw Napi::RangeError::New(env, "addresses must be page-aligned and ascending");
    pids.push_back(p.As<Napi::Number>().Int32Value());
    all.insert(all.end(), l.begin(), l.end());
    lists->push_back(std::move(l));
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  const size_t want = std::max<size_t>(1, static_cast<size_t>(info[3].As<Napi::Number>().Uint32Value()));
  const size_t per = std::max<size_t>(1, (all.size() + want - 1) / want);
  const size_t slices = all.empty() ? 1 : (all.size() + per - 1) / per;
  Napi::Array promises = Napi::Array::New(env, slices);
  for (size_t n = 0; n < slices; n++) {
    const size_t lo = n * per, hi = std::min(all.size(), lo + per);
    Slice s;
    s.parent = parent;
    s.pages.assign(all.begin() + lo, all.begin() + hi);
    for (size_t i = 0; i < pids.size(); i++) {
      const std::vector<uint64_t>& l = (*lists)[i];
      ChildPart c;
      c.pid = pids[i];
      c.addrs = &l;
      c.from = n == 0 ? 0 : static_cast<size_t>(std::lower_bound(l.begin(), l.end(), all[lo]) - l.begin());
      c.to = n + 1 == slices ? l.size() : static_cast<size_t>(std::lower_bound(l.begin(), l.end(), all[hi]) - l.begin());
      s.children.push_back(std::move(c));
    }
    auto* worker = new SliceWorker(env, lists, std::move(s));
    promises.Set(static_cast<uint32_t>(n), worker->Promise());
    worker->Queue();
  }
  return promises;
}

}  // namespace

void InitFamilyCompare(Napi::Env env, Napi::Object exports) {
  exports.Set("compareFamilySlicesAsync", Napi::Function::New(env, CompareFamilySlicesAsync));
}

}  // namespace cowscope
