#pragma once
/// \file detail/aligned_buffer.hpp A zero-initialised, cache-line-aligned array that owns its
/// memory (the table rows live here).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace embtab::detail {

/// Bytes of a cache line; rows and sketch buckets are aligned to it.
inline constexpr std::size_t cache_line = 64;

/// Hints the CPU to bring the cache line holding `p` into the first-level cache, or with
/// `ToL2` only into the second (no effect where unsupported). Into L2 (`prefetcht1`) a request
/// does not hold one of the core's few first-level fill buffers while its line comes from
/// memory, so many more can be in flight. On x86-64 it is an `asm volatile` prefetch: GCC
/// deletes a loop of `__builtin_prefetch` calls as a loop without side effects
/// (`-ffinite-loops`, on from -O2), which silently took every prefetch out of the lookups and
/// updates.
template <bool ToL2 = false>
inline void prefetch_line(const void* p) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    if constexpr (ToL2) __asm__ volatile("prefetcht1 %0" : : "m"(*static_cast<const char*>(p)));
    else __asm__ volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, ToL2 ? 2 : 3);
#else
    (void)p;
#endif
}

/// `prefetch_line<ToL2>` on every cache line of `[p, p + bytes)`. The count depends on `bytes`
/// only (a row that may straddle a line boundary gets one more, on its last byte), so the loop
/// never mispredicts on where a row starts.
template <bool ToL2 = false>
inline void prefetch_lines(const void* p, std::size_t bytes) noexcept {
    const auto* b = static_cast<const char*>(p);
    for (std::size_t at = 0; at < bytes; at += cache_line) prefetch_line<ToL2>(b + at);
    if (bytes % cache_line != 0) prefetch_line<ToL2>(b + bytes - 1);
}

/// `prefetch_line` for a line about to be written (a no-op on x86-64 CPUs without PREFETCHW,
/// which decode it as a NOP).
inline void prefetch_line_for_write(const void* p) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 1, 3);
#else
    (void)p;
#endif
}

/// Buffers of at least this many bytes are aligned to 2 MiB and asked to be backed by huge
/// pages (Linux transparent huge pages): random row access over a large table otherwise misses
/// the TLB on nearly every row.
inline constexpr std::size_t huge_page = std::size_t(2) << 20;

/// `size` bytes aligned to a cache line (2 MiB when large), zeroed on creation, deep-copied on
/// copy.
class aligned_buffer {
public:
    /// An empty buffer.
    aligned_buffer() noexcept : data_(nullptr, release{}) {}
    /// `size` zero bytes.
    explicit aligned_buffer(std::size_t size) : data_(allocate(size)), size_(size) {
        if (size) std::memset(data_.get(), 0, size);
    }
    /// Deep copy.
    aligned_buffer(const aligned_buffer& o) : data_(allocate(o.size_)), size_(o.size_) {
        if (size_) std::memcpy(data_.get(), o.data_.get(), size_);
    }
    /// Deep copy.
    aligned_buffer& operator=(const aligned_buffer& o) {
        if (this != &o) *this = aligned_buffer(o);
        return *this;
    }
    aligned_buffer(aligned_buffer&&) noexcept = default;
    aligned_buffer& operator=(aligned_buffer&&) noexcept = default;

    /// First byte.
    std::byte* data() noexcept { return data_.get(); }
    /// First byte.
    const std::byte* data() const noexcept { return data_.get(); }
    /// Number of bytes.
    std::size_t size() const noexcept { return size_; }

private:
    static std::size_t alignment(std::size_t size) noexcept {
        return size >= 2 * huge_page ? huge_page : cache_line;
    }
    struct release {
        std::size_t align = cache_line;
        void operator()(std::byte* p) const noexcept { ::operator delete(p, std::align_val_t(align)); }
    };
    using owner = std::unique_ptr<std::byte, release>;
    /// Memory for `size` bytes, not yet touched (so that huge pages can back it).
    static owner allocate(std::size_t size) {
        if (size == 0) return owner(nullptr, release{});
        const std::size_t align = alignment(size);
        owner p(static_cast<std::byte*>(::operator new(size, std::align_val_t(align))), release{align});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (align == huge_page) ::madvise(p.get(), size - size % huge_page, MADV_HUGEPAGE);
#endif
        return p;
    }
    owner data_;
    std::size_t size_ = 0;
};

}  // namespace embtab::detail
