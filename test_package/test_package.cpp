// embtab's package test: one full_table lookup and update, and a check that the update moved
// the looked-up row toward the target. Exits 0 on success.
#include <embtab/embtab.hpp>

#include <cstdint>
#include <iostream>
#include <vector>

int main() {
    auto table = embtab::make_full_table<embtab::f32>(100, 4, embtab::sgd{0.5f}, /*seed*/ 7);

    std::vector<std::int64_t> ids = {3, 42};
    embtab::row_matrix rows(2, table.dim());
    table.lookup(ids, rows);

    // loss = ½‖rows‖², so the gradient is the rows themselves; one SGD step at lr 0.5 halves them.
    embtab::row_matrix grad = rows;
    table.update(ids, grad);

    embtab::row_matrix after(2, table.dim());
    table.lookup(ids, after);
    const float before_norm = rows.squaredNorm();
    const float after_norm = after.squaredNorm();
    std::cout << "embtab " << embtab::version_major << '.' << embtab::version_minor << '.'
              << embtab::version_patch << ": |rows|^2 " << before_norm << " -> " << after_norm
              << '\n';
    return (before_norm > 0.0f && after_norm < before_norm) ? 0 : 1;
}
