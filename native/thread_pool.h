// A persistent pool of worker threads for the CPU kernels: threads are created once, on first use, so a
// kernel call never pays for thread creation. One job runs at a time; a caller that finds the pool busy
// (another worker_thread, or an async call on the libuv pool) runs its job inline instead of waiting.
#pragma once
#include <cstdint>
#include <functional>

namespace ts {

// Number of threads (workers + the calling thread) a parallel job uses.
int PoolThreads();

// Runs fn(begin, end) over [0, n) split into contiguous chunks whose boundaries are multiples of `align`.
// Runs inline when n < min_parallel or the pool is busy.
void ParallelFor(int64_t n, int64_t min_parallel, int64_t align,
                 const std::function<void(int64_t, int64_t)>& fn);

}  // namespace ts
