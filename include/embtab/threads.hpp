#pragma once
/// \file threads.hpp Thread policies of batch lookups and updates: who runs the parts of one
/// `lookup` / `lookup_pooled` / `update` / `update_pooled` call. A policy has
/// `std::size_t threads()` and `run(parts, task)`, which calls `task(p)` once for every `p` in
/// `[0, parts)` — possibly at the same time on different threads — and returns when all have
/// returned.
///
/// Tables split a batch into contiguous parts of about equal id counts (whole bags for pooled
/// lookups), and an update's distinct rows into contiguous parts (each row summed and stepped
/// by one thread), so results are bitwise the same under every policy.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace embtab {

/// Runs the whole batch on the calling thread (the default policy).
struct serial {
    /// One thread.
    static constexpr std::size_t threads() noexcept { return 1; }
    /// Calls `task(p)` for every part in order.
    template <class Task>
    void run(std::size_t parts, Task&& task) const {
        for (std::size_t p = 0; p < parts; ++p) task(p);
    }
};

/// A fixed set of worker threads that, with the calling thread, run the parts of a batch.
/// One pool may serve many tables; calls from several threads at once take turns.
class thread_pool {
public:
    /// `threads` threads in all, the caller included (default: one per hardware thread).
    /// When a thread cannot be started, the ones already started are stopped and joined and
    /// the error (`std::system_error`, or `std::bad_alloc`) is rethrown.
    explicit thread_pool(std::size_t threads = std::thread::hardware_concurrency()) {
        const std::size_t workers = threads > 1 ? threads - 1 : 0;
        try {
            workers_.reserve(workers);
            for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
        } catch (...) {
            stop_and_join();
            throw;
        }
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    /// Stops and joins the workers.
    ~thread_pool() { stop_and_join(); }

    /// Threads that run parts, the caller included.
    std::size_t threads() const noexcept { return workers_.size() + 1; }

    /// Calls `task(p)` for every `p` in `[0, parts)` on the workers and the calling thread
    /// (each claims the next part when done with one, so a late thread takes fewer); rethrows
    /// the first exception a part threw once all parts are done.
    template <class Task>
    void run(std::size_t parts, Task&& task) {
        if (parts <= 1 || workers_.empty()) {
            for (std::size_t p = 0; p < parts; ++p) task(p);
            return;
        }
        using task_type = std::remove_reference_t<Task>;
        const job j{[](void* t, std::size_t p) { (*static_cast<task_type*>(t))(p); },
                    const_cast<void*>(static_cast<const void*>(&task)), parts};
        std::lock_guard<std::mutex> turn(run_mutex_);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = j;
            next_.store(0, std::memory_order_relaxed);
            done_ = 0;
            complete_.store(false, std::memory_order_relaxed);
            generation_.store(generation_.load(std::memory_order_relaxed) + 1,
                              std::memory_order_release);
        }
        wake_.notify_all();
        std::exception_ptr error = run_parts(j);
        spin_until([&] { return complete_.load(std::memory_order_acquire); });
        std::unique_lock<std::mutex> lock(mutex_);
        finished_.wait(lock, [&] { return complete_.load(std::memory_order_relaxed); });
        job_ = {};
        if (!error) error = std::exchange(error_, nullptr);
        error_ = nullptr;
        if (error) std::rethrow_exception(error);
    }

private:
    void stop_and_join() noexcept {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
    }

    struct job {
        void (*call)(void*, std::size_t) = nullptr;
        void* task = nullptr;
        std::size_t parts = 0;
    };

    /// Busy-waits (politely: 4096 `pause`s, tens to a couple of hundred microseconds by CPU) for
    /// `ready()`: batches come in quick succession during training, and sleeping on a condition
    /// variable would add a wake-up latency to every one of them.
    template <class Ready>
    static void spin_until(Ready&& ready) noexcept {
        for (int i = 0; i < 4096 && !ready(); ++i) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#else
            std::this_thread::yield();
#endif
        }
    }

    /// Marks the job complete when every part is done and every worker has left it (with
    /// `mutex_` held).
    void check_complete() {
        if (done_ == job_.parts && active_ == 0) {
            complete_.store(true, std::memory_order_release);
            finished_.notify_one();
        }
    }

    /// Claims and runs parts of `j` until none are left; counts them in `done_` and returns the
    /// first exception one of them threw.
    std::exception_ptr run_parts(const job& j) {
        std::size_t ran = 0;
        std::exception_ptr error;
        for (std::size_t p; (p = next_.fetch_add(1, std::memory_order_relaxed)) < j.parts; ++ran) {
            try {
                j.call(j.task, p);
            } catch (...) {
                if (!error) error = std::current_exception();
            }
        }
        std::lock_guard<std::mutex> lock(mutex_);
        done_ += ran;
        check_complete();
        return error;
    }

    /// A worker: joins each new job while it is open, so a job (and the task it points to)
    /// outlives every worker that runs parts of it.
    void work() {
        std::size_t seen = 0;
        for (;;) {
            spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
            job j;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] {
                    return stop_ || generation_.load(std::memory_order_relaxed) != seen;
                });
                if (stop_) return;
                seen = generation_.load(std::memory_order_relaxed);
                // A job already declared complete may not be joined: its caller may have
                // returned, and its task be gone.
                if (job_.parts == 0 || complete_.load(std::memory_order_relaxed)) continue;
                j = job_;
                ++active_;
            }
            std::exception_ptr error = run_parts(j);
            std::lock_guard<std::mutex> lock(mutex_);
            if (error && !error_) error_ = error;
            --active_;
            check_complete();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex run_mutex_;  // one job at a time
    std::mutex mutex_;      // guards job_, done_, active_, error_, stop_ (and generation_ writes)
    std::condition_variable wake_, finished_;
    job job_;                                 // the open job (parts 0 when none)
    std::atomic<std::size_t> next_{0};        // next part to claim
    std::atomic<std::size_t> generation_{0};  // jobs started so far
    std::atomic<bool> complete_{false};       // the open job is done and left by every worker
    std::size_t done_ = 0, active_ = 0;
    std::exception_ptr error_;
    bool stop_ = false;
};

#if defined(_OPENMP)
/// Runs the parts of a batch in an OpenMP parallel loop (only when compiled with OpenMP).
struct openmp {
    /// OpenMP's thread count for the next parallel region.
    static std::size_t threads() noexcept {
        return static_cast<std::size_t>(omp_get_max_threads());
    }
    /// Calls `task(p)` for every part, one part per iteration of a parallel loop.
    template <class Task>
    void run(std::size_t parts, Task&& task) const {
        const auto n = static_cast<long long>(parts);
#pragma omp parallel for schedule(dynamic)
        for (long long p = 0; p < n; ++p) task(static_cast<std::size_t>(p));
    }
};
#endif

}  // namespace embtab
