#pragma once
/// \file detail/float_arena.hpp Memory an update uses and gives back, which a copied table
/// does not carry: blocks of floats that never move until `clear` (where a gradient computed
/// during an update waits for the step that reads it), and a grow-only uninitialised buffer.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace embtab::detail {

/// Hands out blocks of `n` floats from chunks it keeps; a block stays valid (and in place)
/// until `clear`, which keeps the chunks for the next update.
class float_arena {
public:
    float_arena() = default;
    /// A copy is empty: blocks live within one update, and tables are copied between updates.
    float_arena(const float_arena&) noexcept {}
    /// Keeps this arena's own chunks (see the copy constructor).
    float_arena& operator=(const float_arena&) noexcept { return *this; }
    float_arena(float_arena&&) noexcept = default;
    float_arena& operator=(float_arena&&) noexcept = default;
    ~float_arena() = default;

    /// A block of `n` uninitialised floats.
    float* take(std::size_t n) {
        while (chunk_ < chunks_.size() && used_ + n > chunks_[chunk_].size) {
            ++chunk_;
            used_ = 0;
        }
        if (chunk_ == chunks_.size()) {
            const std::size_t size = std::max(n, chunk_floats);
            chunks_.push_back({std::make_unique<float[]>(size), size});
            used_ = 0;
        }
        float* block = chunks_[chunk_].data.get() + used_;
        used_ += n;
        return block;
    }
    /// Gives every block back (their memory is reused by later `take`s).
    void clear() noexcept { chunk_ = used_ = 0; }

private:
    static constexpr std::size_t chunk_floats = std::size_t(1) << 14;  // 64 KiB
    struct chunk {
        std::unique_ptr<float[]> data;
        std::size_t size;
    };
    std::vector<chunk> chunks_;
    std::size_t chunk_ = 0, used_ = 0;
};

/// `n` uninitialised bytes on demand, kept for the next update (grown, never shrunk or
/// zeroed); a copy is empty.
class scratch_bytes {
public:
    scratch_bytes() = default;
    /// A copy is empty (see `float_arena`).
    scratch_bytes(const scratch_bytes&) noexcept {}
    /// Keeps this buffer's own memory.
    scratch_bytes& operator=(const scratch_bytes&) noexcept { return *this; }
    scratch_bytes(scratch_bytes&&) noexcept = default;
    scratch_bytes& operator=(scratch_bytes&&) noexcept = default;
    ~scratch_bytes() = default;

    /// At least `n` bytes (their contents are unspecified after growing).
    std::byte* at_least(std::size_t n) {
        if (n > size_) {
            data_ = std::unique_ptr<std::byte[]>(new std::byte[n]);
            size_ = n;
        }
        return data_.get();
    }
    /// The bytes (valid after `at_least`).
    std::byte* data() noexcept { return data_.get(); }

private:
    std::unique_ptr<std::byte[]> data_;
    std::size_t size_ = 0;
};

}  // namespace embtab::detail
