// The smallest complete use of embtab: look up, pool, and train a table on a toy objective.
#include <embtab/embtab.hpp>

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <vector>

int main() {
    // 1000 ids, 8-dim rows stored as fp16, trained with row-wise Adagrad; seed 42.
    auto table = embtab::make_full_table<embtab::f16>(1000, 8, embtab::rowwise_adagrad{0.1f}, 42);

    // A batch of three bags (PyTorch/FBGEMM offsets: bags + 1 entries, last = number of ids).
    std::vector<std::int64_t> ids = {3, 17, 17, 999, 42};
    std::vector<std::int64_t> offsets = {0, 2, 2, 5};  // bags {3,17}, {}, {17,999,42}
    embtab::row_matrix pooled(3, table.dim());

    // Train: pull every pooled vector toward all-ones (loss = ½‖pooled − 1‖²).
    for (int step = 0; step <= 50; ++step) {
        table.lookup_pooled(ids, offsets, pooled, {embtab::pooling::mean});
        embtab::row_matrix grad = pooled.array() - 1.0f;  // ∂loss/∂pooled
        grad.row(1).setZero();                            // the empty bag has no target
        if (step % 10 == 0)
            std::cout << "step " << step << "  loss " << 0.5f * grad.squaredNorm() << '\n';
        table.update_pooled(ids, offsets, grad, {embtab::pooling::mean});
    }

    const auto mem = table.memory_bytes();
    std::cout << "parameters " << mem.parameters << " B, optimizer state " << mem.optimizer_state
              << " B\n";

    // Checkpoint in memory (embtab::save / embtab::load do the same with a file, atomically):
    // a table of the same type and shape, built with another seed, becomes this one exactly.
    auto resumed = embtab::make_full_table<embtab::f16>(1000, 8, embtab::rowwise_adagrad{0.1f}, 7);
    const std::vector<std::byte> checkpoint = embtab::save_bytes(table);
    embtab::load_bytes(resumed, checkpoint.data(), checkpoint.size());
    std::cout << "checkpoint " << checkpoint.size() << " B, restored exactly: " << std::boolalpha
              << (embtab::save_bytes(resumed) == checkpoint) << '\n';

    // Bad input never corrupts: the id is named with its position and the valid range.
    try {
        std::vector<std::int64_t> bad = {1, 1000};
        embtab::row_matrix out(2, table.dim());
        table.lookup(bad, out);
    } catch (const embtab::id_out_of_range& e) {
        std::cout << "rejected: " << e.what() << '\n';
    }
}
