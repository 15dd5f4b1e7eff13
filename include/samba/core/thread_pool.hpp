// samba/core/thread_pool.hpp: a small fork-join pool. A job has size() pieces; the caller and the
// workers claim them from an atomic counter, so a descheduled worker never stalls a job. Workers
// spin briefly between jobs (decode issues dozens of short parallel regions per token) and then
// sleep on an atomic wait, so they leave the cores to BLAS or other work.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "samba/core/error.hpp"
#include "samba/core/types.hpp"

namespace samba {

class ThreadPool {
 public:
  /// `threads` = threads in all, the caller included; 0 = the cores available.
  explicit ThreadPool(int threads = 0) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    require(threads <= 1024, "ThreadPool: ", threads, " threads is too many");
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// Calls fn(piece) once for each piece in [0, size()), on whichever threads claim them;
  /// returns when all are done.
  /// An exception thrown by any of them is rethrown here. Safe to call from several threads at
  /// once (one model serving several sequences): a caller that finds the pool busy runs all the
  /// pieces itself, one after another, instead of waiting.
  template <class F>
  void run(F&& fn) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (workers_.empty() || !busy.owns_lock()) {
      for (int thread = 0; thread < size(); ++thread) fn(thread);
      return;
    }
    job_ = [](void* f, int thread) { (*static_cast<std::remove_reference_t<F>*>(f))(thread); };
    job_arg_ = static_cast<void*>(&fn);
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    next_.store(0, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    // The caller claims pieces too, so a worker that the OS has not scheduled yet delays nothing:
    // its pieces are taken by whoever is running.
    drain();
    for (int spin = 0; done_.load(std::memory_order_acquire) != size(); ++spin) {
      if (spin < spin_limit) spin_pause();
      else std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

  /// Splits [0, n) into size() contiguous pieces whose bounds are multiples of `grain` and calls
  /// fn(begin, end) for each non-empty piece in parallel. `work_per_item` (an estimate in flops or
  /// bytes) keeps small jobs on the calling thread, where waking the workers would cost more.
  template <class F>
  void parallel_for(index_t n, F&& fn, index_t grain = 1, index_t work_per_item = 0) {
    const index_t chunks = (n + grain - 1) / grain;
    int used = static_cast<int>(std::min<index_t>(size(), chunks));
    if (work_per_item > 0 && n * work_per_item < min_parallel_work) used = 1;
    if (used <= 1) {
      if (n > 0) fn(index_t{0}, n);
      return;
    }
    run([&](int thread) {
      if (thread >= used) return;
      const index_t lo = chunks * thread / used * grain, hi = std::min(n, chunks * (thread + 1) / used * grain);
      if (lo < hi) fn(lo, hi);
    });
  }

 private:
  static void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
  }

  /// Claims and runs pieces of the current job until none is left.
  void drain() {
    for (int piece = next_.fetch_add(1, std::memory_order_acq_rel); piece < size();
         piece = next_.fetch_add(1, std::memory_order_acq_rel)) {
      try {
        job_(job_arg_, piece);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void work() {
    unsigned seen = 0;
    while (true) {
      unsigned now = generation_.load(std::memory_order_acquire);
      for (int spin = 0; now == seen && spin < spin_limit; ++spin) {
        spin_pause();
        now = generation_.load(std::memory_order_acquire);
      }
      if (now == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        continue;
      }
      seen = now;
      if (stop_.load()) return;
      drain();
    }
  }

  static constexpr int spin_limit = 20000;  // about 0.1-0.5 ms of pause instructions
  static constexpr index_t min_parallel_work = index_t{1} << 15;
  std::vector<std::thread> workers_;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> next_{0};  // next piece of the current job to claim
  std::atomic<int> done_{0};  // pieces of the current job finished
  std::atomic<bool> stop_{false};
  void (*job_)(void*, int) = nullptr;
  void* job_arg_ = nullptr;
  std::exception_ptr error_;
  std::mutex error_mutex_;
  std::mutex run_mutex_;  // held by the caller whose job the workers are running
};

}  // namespace samba
