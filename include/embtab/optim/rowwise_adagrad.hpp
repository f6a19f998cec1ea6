#pragma once
/// \file optim/rowwise_adagrad.hpp Optimizer policy: row-wise Adagrad (FBGEMM's
/// `EXACT_ROWWISE_ADAGRAD`), one accumulator per row.

#include <cmath>
#include <cstddef>

#include "../detail/lanes.hpp"

namespace embtab {

/// `h += mean(g²); w -= lr · g / (sqrt(h) + eps)` with one `h` per row.
struct rowwise_adagrad {
    float lr = 0.01f;               ///< learning rate
    float eps = 1e-8f;              ///< added to the root for stability
    float initial_accumulator = 0;  ///< starting value of `h`

    /// Name used in messages and checkpoint signatures.
    static constexpr const char* name = "rowwise_adagrad";
    /// Calls `f(name, field)` on each hyper-parameter (checkpoints save and restore them).
    template <class Self, class F>
    static void checkpoint_fields(Self& self, F&& f) {
        f("lr", self.lr);
        f("eps", self.eps);
        f("initial_accumulator", self.initial_accumulator);
    }
    /// Floats of state per row: one accumulator.
    static constexpr std::size_t state_size(std::size_t) noexcept { return 1; }
    /// Why these hyper-parameters cannot train (nullptr: they can).
    const char* invalid() const noexcept {
        if (!(eps > 0)) return "rowwise_adagrad eps must be > 0";
        if (!(initial_accumulator >= 0)) return "rowwise_adagrad initial_accumulator must be >= 0";
        return nullptr;
    }
    /// Whether `h` can be a row's state (a mean of squares: >= 0).
    static bool valid_state(const float* h, std::size_t) noexcept { return *h >= 0; }
    /// Sets a fresh row's state.
    void init_state(float* h, std::size_t) const noexcept { *h = initial_accumulator; }
    /// One step of row `w` with gradient `g` (vectorised: the sum of squares is added in an
    /// order that depends on the vector width, as FBGEMM's is).
    void step(float* w, const float* g, float* h, std::size_t dim) const noexcept {
        float sq = 0;
        detail::with_widest_lanes([&](auto tag) {
            using V = typename decltype(tag)::type;
            V acc = V::all(0.0f);
            std::size_t j = 0;
            for (; j + V::lanes <= dim; j += V::lanes) {
                const V gj = V::load(g + j);
                acc = acc + gj * gj;
            }
            sq = acc.sum();
            for (; j < dim; ++j) sq += g[j] * g[j];
        });
        *h += sq / static_cast<float>(dim);
        const float rate = lr / (std::sqrt(*h) + eps);
        detail::for_lanes(dim, [&](auto tag, std::size_t j) {
            using V = typename decltype(tag)::type;
            (V::load(w + j) - V::all(rate) * V::load(g + j)).store(w + j);
        });
    }
};

}  // namespace embtab
