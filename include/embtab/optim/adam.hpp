#pragma once
/// \file optim/adam.hpp Optimizer policy: lazy Adam — only the rows in a batch move, each with
/// its own step count for bias correction.

#include <cmath>
#include <cstddef>

#include "../detail/lanes.hpp"

namespace embtab {

/// Adam (Kingma & Ba) per row: moments `m`, `v` and step count `t` kept per row.
struct adam {
    float lr = 1e-3f;      ///< learning rate
    float beta1 = 0.9f;    ///< decay of the first moment
    float beta2 = 0.999f;  ///< decay of the second moment
    float eps = 1e-8f;     ///< added to the root for stability

    /// Name used in messages and checkpoint signatures.
    static constexpr const char* name = "adam";
    /// Calls `f(name, field)` on each hyper-parameter (checkpoints save and restore them).
    template <class Self, class F>
    static void checkpoint_fields(Self& self, F&& f) {
        f("lr", self.lr);
        f("beta1", self.beta1);
        f("beta2", self.beta2);
        f("eps", self.eps);
    }
    /// Floats of state per row: `m[dim]`, `v[dim]`, then the step count `t`.
    static constexpr std::size_t state_size(std::size_t dim) noexcept { return 2 * dim + 1; }
    /// Why these hyper-parameters cannot train (nullptr: they can).
    const char* invalid() const noexcept {
        if (!(beta1 >= 0 && beta1 < 1)) return "adam beta1 must be in [0, 1)";
        if (!(beta2 >= 0 && beta2 < 1)) return "adam beta2 must be in [0, 1)";
        if (!(eps > 0)) return "adam eps must be > 0";
        return nullptr;
    }
    /// Whether `s` can be a row's state: second moments >= 0, a whole step count >= 0.
    static bool valid_state(const float* s, std::size_t dim) noexcept {
        for (std::size_t j = dim; j < 2 * dim; ++j)
            if (!(s[j] >= 0)) return false;
        const float t = s[2 * dim];
        return t >= 0 && t == std::floor(t);
    }
    /// Sets a fresh row's state (all zero).
    void init_state(float* s, std::size_t dim) const noexcept {
        for (std::size_t j = 0; j < state_size(dim); ++j) s[j] = 0;
    }
    /// One step of row `w` with gradient `g`:
    /// `w -= lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + eps)` (PyTorch's formulation).
    void step(float* w, const float* g, float* s, std::size_t dim) const noexcept {
        float* m = s;
        float* v = s + dim;
        float& t = s[2 * dim];
        t += 1;  // exact to 2^24 steps of one row; beyond that the correction is 1 anyway
        const float bc1 = 1 - std::pow(beta1, t);
        const float bc2_root = std::sqrt(1 - std::pow(beta2, t));
        const float step_size = lr / bc1;
        detail::for_lanes(dim, [&](auto tag, std::size_t j) {  // the same bits at every width
            using V = typename decltype(tag)::type;
            const V gj = V::load(g + j);
            const V mj = V::all(beta1) * V::load(m + j) + V::all(1 - beta1) * gj;
            const V vj = V::all(beta2) * V::load(v + j) + V::all(1 - beta2) * gj * gj;
            mj.store(m + j);
            vj.store(v + j);
            (V::load(w + j) - V::all(step_size) * mj / (sqrt(vj) / V::all(bc2_root) + V::all(eps)))
                .store(w + j);
        });
    }
};

}  // namespace embtab
