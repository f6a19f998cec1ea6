#pragma once
/// \file optim/adagrad.hpp Optimizer policy: Adagrad with one accumulator per element
/// (PyTorch's `optim.Adagrad` without learning-rate decay).

#include <cmath>
#include <cstddef>

#include "../detail/lanes.hpp"

namespace embtab {

/// `h += g²; w -= lr · g / (sqrt(h) + eps)`, element-wise.
struct adagrad {
    float lr = 0.01f;                ///< learning rate
    float eps = 1e-10f;              ///< added to the root for stability
    float initial_accumulator = 0;   ///< starting value of `h`

    /// Name used in messages and checkpoint signatures.
    static constexpr const char* name = "adagrad";
    /// Calls `f(name, field)` on each hyper-parameter (checkpoints save and restore them).
    template <class Self, class F>
    static void checkpoint_fields(Self& self, F&& f) {
        f("lr", self.lr);
        f("eps", self.eps);
        f("initial_accumulator", self.initial_accumulator);
    }
    /// Floats of state per row: one accumulator per element.
    static constexpr std::size_t state_size(std::size_t dim) noexcept { return dim; }
    /// Why these hyper-parameters cannot train (nullptr: they can).
    const char* invalid() const noexcept {
        if (!(eps > 0)) return "adagrad eps must be > 0";
        if (!(initial_accumulator >= 0)) return "adagrad initial_accumulator must be >= 0";
        return nullptr;
    }
    /// Whether `h` can be a row's state (accumulators are sums of squares: >= 0).
    static bool valid_state(const float* h, std::size_t dim) noexcept {
        for (std::size_t j = 0; j < dim; ++j)
            if (!(h[j] >= 0)) return false;
        return true;
    }
    /// Sets a fresh row's state.
    void init_state(float* h, std::size_t dim) const noexcept {
        for (std::size_t j = 0; j < dim; ++j) h[j] = initial_accumulator;
    }
    /// One step of row `w` with gradient `g` (vectorised; the same bits at every width).
    void step(float* w, const float* g, float* h, std::size_t dim) const noexcept {
        detail::for_lanes(dim, [&](auto tag, std::size_t j) {
            using V = typename decltype(tag)::type;
            const V gj = V::load(g + j);
            const V hj = V::load(h + j) + gj * gj;
            hj.store(h + j);
            (V::load(w + j) - V::all(lr) * gj / (sqrt(hj) + V::all(eps))).store(w + j);
        });
    }
};

}  // namespace embtab
