#include "thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "environment.h"

namespace ts {
namespace {

class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { Work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int threads() const { return threads_; }

  // Returns false (without running anything) if another job holds the pool.
  bool TryRun(int64_t n, int64_t align, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> busy(job_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      align_ = align;
      pending_ = threads_ - 1;
      ++generation_;
    }
    cv_.notify_all();
    RunChunk(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    fn_ = nullptr;
    return true;
  }

 private:
  void RunChunk(int index) {
    // Chunk boundaries rounded to `align` elements so threads never share a cache line of output.
    int64_t per = (n_ + threads_ - 1) / threads_;
    per = (per + align_ - 1) / align_ * align_;
    int64_t begin = std::min<int64_t>(n_, per * index);
    int64_t end = std::min<int64_t>(n_, begin + per);
    if (begin < end) (*fn_)(begin, end);
  }
  void Work(int index) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      RunChunk(index);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex job_mu_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  int pending_ = 0;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, align_ = 1;
};

int ConfiguredThreads() {
  // TAYLORSEER_THREADS caps the pool (benchmarks, shared machines); default: every hardware thread.
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  if (hw < 1) hw = 1;
  const int requested = RequestedThreads();
  return requested > 0 ? requested : hw;
}

Pool& GetPool() {
  // Leaked on purpose: joining threads during static destruction at process exit can deadlock when a
  // worker_thread unloads while another still runs; the OS reclaims the threads.
  static Pool* pool = new Pool(ConfiguredThreads());
  return *pool;
}

}  // namespace

int PoolThreads() { return GetPool().threads(); }

void ParallelFor(int64_t n, int64_t min_parallel, int64_t align,
                 const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (n < min_parallel || PoolThreads() == 1 || !GetPool().TryRun(n, align, fn)) fn(0, n);
}

}  // namespace ts
