// "I have B bytes for n ids of dimension d: what does each method give me?" — the planners.
#include <embtab/embtab.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    const std::uint64_t n = argc > 1 ? std::stoull(argv[1]) : 10'000'000;
    const std::size_t d = argc > 2 ? std::stoul(argv[2]) : 16;
    const std::size_t budget = argc > 3 ? std::stoull(argv[3]) : std::size_t(64) << 20;
    std::printf("%llu ids × %zu dims in %zu bytes (%.0f× smaller than fp32)\n",
                static_cast<unsigned long long>(n), d, budget, double(n) * d * 4 / double(budget));

    const auto report = [](const char* method, const embtab::memory_usage& m, const std::string& how) {
        std::printf("  %-10s %11zu B  (params %zu, optimizer %zu, other %zu)  %s\n", method,
                    m.total(), m.parameters, m.optimizer_state, m.other, how.c_str());
    };
    try {
        const auto hash = embtab::plan_hash(n, d, budget).make(embtab::sgd{0.05f});
        report("hash", hash.memory_bytes(), std::to_string(hash.rows()) + " shared rows");
        const auto qr = embtab::plan_qr(n, d, budget);
        report("qr", qr.make(embtab::sgd{0.05f}).memory_bytes(), "");
        // CAFE with an int8 hot table, sized by the planner
        const auto plan = embtab::plan_cafe<embtab::int8_rowwise>(n, d, budget);
        const auto cafe = plan.make<embtab::int8_rowwise>(embtab::sgd{0.05f}, /*seed*/ 1);
        report("cafe", cafe.memory_bytes(),
               std::to_string(plan.hot_rows) + " hot rows, " + std::to_string(plan.shared_rows) +
                   " shared, " + std::to_string(plan.buckets) + " sketch buckets");
        // CAFE sized from counts: here Zipf(1.1)-shaped counts of a 1M-lookup sample stand in
        // for the counts of real traffic (counts[id] = occurrences of id)
        std::vector<std::uint32_t> counts(static_cast<std::size_t>(n));
        for (std::size_t rank = 0; rank < counts.size(); ++rank)
            counts[rank * 2654435761u % counts.size()] = static_cast<std::uint32_t>(
                1e6 * 0.1 / std::pow(double(rank + 1), 1.1));
        const auto sized = embtab::plan_cafe_from_counts(counts, d, budget);
        report("cafe/count", sized.make(embtab::sgd{0.05f}, 1).memory_bytes(),
               std::to_string(sized.hot_rows) + " hot rows, " +
                   std::to_string(sized.shared_rows) + " shared (shared fraction " +
                   std::to_string(sized.shared_fraction).substr(0, 4) + ")");
    } catch (const embtab::bad_parameter& e) {  // a budget a method cannot reach
        std::printf("  %s\n", e.what());
    }
}
