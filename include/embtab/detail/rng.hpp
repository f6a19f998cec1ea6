#pragma once
/// \file detail/rng.hpp A small, fast, seedable generator (SplitMix64) for initialisation and
/// stochastic rounding; its whole state is one integer, so it checkpoints exactly.

#include <cstdint>

#include "../io/byte_io.hpp"

namespace embtab::detail {

/// SplitMix64: passes BigCrush, 64-bit state, one multiply-xorshift chain per draw.
class rng {
public:
    /// A generator whose sequence is fixed by `seed`.
    explicit rng(std::uint64_t seed = 0) noexcept : state_(seed) {}

    /// Next 64 random bits.
    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, 1) with 53 random bits.
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform in [lo, hi).
    float uniform(float lo, float hi) noexcept {
        return lo + static_cast<float>(uniform()) * (hi - lo);
    }
    /// The whole state (for checkpoints).
    std::uint64_t state() const noexcept { return state_; }
    /// Restores a state returned by `state()`.
    void set_state(std::uint64_t s) noexcept { state_ = s; }
    /// Writes the state to a checkpoint.
    void save_state(io::writer& w) const { w.u64(state_); }
    /// Reads a state written by `save_state`.
    void load_state(io::reader& r) { state_ = r.u64("generator state"); }

private:
    std::uint64_t state_;
};

/// Mixes a seed with a stream number so that derived generators are independent.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) noexcept {
    rng r(seed ^ (0xd1b54a32d192ed03ULL * (stream + 1)));
    return r.next();
}

}  // namespace embtab::detail
