#pragma once
/// \file detail/aligned_buffer.hpp A zero-initialised, cache-line-aligned array that owns its
/// memory (the table rows live here).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace embtab::detail {

/// Bytes of a cache line; rows and sketch buckets are aligned to it.
inline constexpr std::size_t cache_line = 64;

/// Hints the CPU to bring the cache line holding `p` into cache (no effect where unsupported).
inline void prefetch_line(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}

/// `size` bytes aligned to a cache line, zeroed on creation, deep-copied on copy.
class aligned_buffer {
public:
    /// An empty buffer.
    aligned_buffer() noexcept = default;
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
    struct release {
        void operator()(std::byte* p) const noexcept {
            ::operator delete(p, std::align_val_t(cache_line));
        }
    };
    static std::byte* allocate(std::size_t size) {
        if (size == 0) return nullptr;
        return static_cast<std::byte*>(::operator new(size, std::align_val_t(cache_line)));
    }
    std::unique_ptr<std::byte, release> data_;
    std::size_t size_ = 0;
};

}  // namespace embtab::detail
