#pragma once
/// \file hash/permutation.hpp A keyed bijection of `[0, n)`: scrambles an id space so that
/// neighbouring ids (often all values of one small field) do not stay neighbours.

#include <cstdint>

#include "hashers.hpp"

namespace embtab {

/// A keyed permutation of `[0, n)`: a 4-round balanced Feistel network on the smallest even
/// number of bits that covers `n` (a domain of less than `4n` values), with cycle walking —
/// a value that lands at or above `n` is permuted again until it falls below `n`, which it
/// does because the network is a bijection of its domain. Default-constructed: the identity.
class id_permutation {
public:
    /// The identity.
    id_permutation() = default;
    /// The permutation of `[0, n)` drawn by `key`.
    id_permutation(std::uint64_t n, std::uint64_t key) noexcept : n_(n), key_(key) {
        unsigned bits = 2;
        while (bits < 64 && (std::uint64_t(1) << bits) < n) bits += 2;
        half_ = bits / 2;
        mask_ = (std::uint64_t(1) << half_) - 1;
    }
    /// The image of `x` (`x < n`; other values pass through unchanged).
    std::uint64_t operator()(std::uint64_t x) const noexcept {
        if (half_ == 0 || x >= n_) return x;
        do x = round_trip(x);
        while (x >= n_);
        return x;
    }
    /// True for the identity.
    bool identity() const noexcept { return half_ == 0; }
    /// n (0 for the identity).
    std::uint64_t size() const noexcept { return n_; }
    /// The key.
    std::uint64_t key() const noexcept { return key_; }

private:
    std::uint64_t round_trip(std::uint64_t x) const noexcept {
        std::uint64_t l = x >> half_, r = x & mask_;
        for (std::uint64_t round = 0; round < 4; ++round) {
            const std::uint64_t f = mix64{}(r, key_ + round) & mask_;
            const std::uint64_t next = l ^ f;
            l = r;
            r = next;
        }
        return (l << half_) | r;
    }

    std::uint64_t n_ = 0, key_ = 0, mask_ = 0;
    unsigned half_ = 0;
};

}  // namespace embtab
