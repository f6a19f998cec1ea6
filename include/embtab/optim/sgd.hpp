#pragma once
/// \file optim/sgd.hpp Optimizer policy: plain stochastic gradient descent.

#include <cstddef>

#include "../detail/lanes.hpp"

namespace embtab {

/// `w -= lr · g`; no state.
struct sgd {
    float lr = 0.01f;  ///< learning rate

    /// Name used in messages and checkpoint signatures.
    static constexpr const char* name = "sgd";
    /// Calls `f(name, field)` on each hyper-parameter (checkpoints save and restore them).
    template <class Self, class F>
    static void checkpoint_fields(Self& self, F&& f) {
        f("lr", self.lr);
    }
    /// Floats of state per row.
    static constexpr std::size_t state_size(std::size_t) noexcept { return 0; }
    /// Sets a fresh row's state.
    void init_state(float*, std::size_t) const noexcept {}
    /// One step of row `w` with gradient `g`.
    void step(float* w, const float* g, float*, std::size_t dim) const noexcept {
        detail::for_lanes(dim, [&](auto tag, std::size_t j) {
            using V = typename decltype(tag)::type;
            (V::load(w + j) - V::all(lr) * V::load(g + j)).store(w + j);
        });
    }
};

}  // namespace embtab
