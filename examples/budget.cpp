// "I have B bytes for n ids of dimension d: what does each method give me?" — the planners.
#include <embtab/embtab.hpp>

#include <cstdio>
#include <string>

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
    } catch (const embtab::bad_parameter& e) {  // a budget a method cannot reach
        std::printf("  %s\n", e.what());
    }
}
