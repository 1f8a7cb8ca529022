// Pinned host staging for downloads: cudaMallocHost blocks in powers of two from 4 KiB, kept for reuse up
// to 256 MiB in all (best fit). One pool per process, shared by every environment, never destroyed.
#pragma once
#include <cstddef>
#include <mutex>
#include <vector>

namespace ts::cuda {

class PinnedPool {
 public:
  // At least `bytes` of pinned memory; null when cudaMallocHost fails.
  void* Acquire(size_t bytes);
  void Release(void* p);

 private:
  struct Block {
    void* ptr;
    size_t size;
  };
  static constexpr size_t kMaxCached = size_t{256} << 20;
  std::mutex mu_;
  std::vector<Block> blocks_;  // free, cached
  std::vector<Block> sizes_;   // in use
  size_t cached_ = 0;
};

PinnedPool& Pinned();

}  // namespace ts::cuda
