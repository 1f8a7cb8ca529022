#include "async_staging.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "errors.h"

namespace ts {
namespace {

// Fresh memory costs a page fault per 4 KiB on first touch, which measured 25x the copy itself (760 ms
// against 29 ms for 64 MiB on the 2-core build VM). So large blocks are asked for as transparent huge pages
// (one fault per 2 MiB), and blocks are kept for the next call: at most kMaxHeld bytes, in blocks used for
// copies of at least half their size.
char* NewBlock(size_t* capacity) {
  constexpr size_t kHuge = size_t{2} << 20;
  void* p = nullptr;
  if (*capacity >= 2 * kHuge) {
    *capacity = (*capacity + kHuge - 1) / kHuge * kHuge;
    if (posix_memalign(&p, kHuge, *capacity) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, *capacity, MADV_HUGEPAGE);
#endif
    return static_cast<char*>(p);
  }
  return static_cast<char*>(std::malloc(*capacity));
}

class BlockPool {
 public:
  char* Take(size_t size, size_t* capacity) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first / 2 <= size) {
        char* b = it->second;
        *capacity = it->first;
        held_ -= it->first;
        free_.erase(it);
        return b;
      }
    }
    *capacity = size;
    return NewBlock(capacity);
  }
  void Give(char* block, size_t capacity) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (held_ + capacity <= kMaxHeld) {
        free_.emplace(capacity, block);
        held_ += capacity;
        return;
      }
    }
    std::free(block);
  }
  ~BlockPool() {
    for (auto& f : free_) std::free(f.second);
  }

 private:
  static constexpr size_t kMaxHeld = size_t{256} << 20;
  std::mutex mu_;
  std::multimap<size_t, char*> free_;
  size_t held_ = 0;
};

BlockPool& Pool() {
  static BlockPool pool;
  return pool;
}

}  // namespace

Staging::~Staging() {
  for (Region& r : regions_)
    if (r.block) Pool().Give(r.block, r.capacity);
}

void Staging::Stage(Napi::Env env, const std::vector<HostUse>& uses) {
  struct Span {
    uintptr_t begin, end;
    bool read, write;
  };
  std::vector<Span> spans;
  for (const HostUse& u : uses)
    if (!u.tensor.shared && u.tensor.length > 0) spans.push_back({u.tensor.begin(), u.tensor.end(), u.read, u.write});
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (const Span& s : spans) {
    if (!regions_.empty() && s.begin < regions_.back().end) {
      Region& r = regions_.back();
      r.end = std::max(r.end, s.end);
      r.read = r.read || s.read;
      r.write = r.write || s.write;
    } else {
      regions_.push_back({s.begin, s.end, s.read, s.write, nullptr, 0, nullptr});
    }
  }
  for (Region& r : regions_) {
    const size_t size = r.end - r.begin;
    r.block = Pool().Take(size + 64, &r.capacity);
    TS_REQUIRE(env, r.block != nullptr, "ERR_INVALID_ARGUMENT",
               "an async kernel call could not allocate " + std::to_string(size) +
                   " bytes for the private copy of its arrays; use the synchronous call or SharedArrayBuffer-backed arrays");
    const uintptr_t base = reinterpret_cast<uintptr_t>(r.block);
    r.copy = reinterpret_cast<char*>(base + ((r.begin - base) & 63));
    if (r.read) std::memcpy(r.copy, reinterpret_cast<const void*>(r.begin), size);
    bytes_ += size;
  }
}

void* Staging::MapRaw(void* p) const {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  for (const Region& r : regions_)
    if (a >= r.begin && a < r.end) return r.copy + (a - r.begin);
  return p;
}

std::string Staging::Commit(Napi::Env env, const std::vector<HostUse>& uses, const std::vector<Napi::Reference<Napi::Value>>& refs) {
  for (const HostUse& u : uses) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t offset = 0;
    const napi_status st = napi_get_typedarray_info(env, refs[u.ref].Value(), &type, &length, &data, &buffer, &offset);
    if (st != napi_ok || data != u.tensor.data || static_cast<int64_t>(length) < u.tensor.length) return "[" + std::to_string(u.entry) + "]." + u.field;
  }
  for (const Region& r : regions_)
    if (r.write) std::memcpy(reinterpret_cast<void*>(r.begin), r.copy, r.end - r.begin);
  return std::string();
}

}  // namespace ts
