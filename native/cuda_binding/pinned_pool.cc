#include "pinned_pool.h"

#include <cuda_runtime.h>

namespace ts::cuda {

void* PinnedPool::Acquire(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t best = blocks_.size();
    for (size_t i = 0; i < blocks_.size(); ++i)
      if (blocks_[i].size >= bytes && (best == blocks_.size() || blocks_[i].size < blocks_[best].size)) best = i;
    if (best != blocks_.size()) {
      void* p = blocks_[best].ptr;
      sizes_.push_back({p, blocks_[best].size});
      cached_ -= blocks_[best].size;
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(best));
      return p;
    }
  }
  size_t size = 4096;
  while (size < bytes) size <<= 1;
  void* p = nullptr;
  if (cudaMallocHost(&p, size) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mu_);
  sizes_.push_back({p, size});
  return p;
}

void PinnedPool::Release(void* p) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < sizes_.size(); ++i) {
    if (sizes_[i].ptr == p) {
      Block b = sizes_[i];
      sizes_.erase(sizes_.begin() + static_cast<std::ptrdiff_t>(i));
      if (cached_ + b.size <= kMaxCached) {
        blocks_.push_back(b);
        cached_ += b.size;
      } else {
        cudaFreeHost(p);
      }
      return;
    }
  }
}

PinnedPool& Pinned() {
  static PinnedPool* pool = new PinnedPool();  // never destroyed: outlives every environment
  return *pool;
}

}  // namespace ts::cuda
