#pragma once
/// \file examples/data/synthetic_criteo.hpp A deterministic, Criteo-shaped stream of synthetic
/// click samples whose labels come from a known hidden model.
///
/// **Shape.** 26 categorical fields with Criteo Kaggle's cardinalities times `scale` (at least 2
/// each), 13 integer features, about 25.6% clicks.
///
/// **Sparse ids.** In every field the popularity rank `r` (0 = most frequent) has Zipf probability
/// `(r + 1)^−s / Z` (`s = zipf_exponent`). The first `tabulated_ranks` (2^17) ranks are drawn
/// from Walker/Vose alias tables (one random word each, O(1)): a small one over the first 4096
/// ranks plus a "later" bucket, which stays in cache and serves most draws, and one over the other
/// tabulated ranks plus a "tail" bucket. A tail draw samples the ranks beyond by
/// rejection-inversion (Hörmann & Derflinger 1996; a few `exp`/`log` calls a try, exact for the
/// power law, nearly always one try). The tail's mass comes from the Euler–Maclaurin formula
/// (relative error far below 1e-12 from rank 2^17 on). Ranks become ids
/// through a keyed bijection of `[0, cardinality)` (multiply / xor-shift / add rounds on the next
/// power of two, cycle-walking back into range), so popularity is unrelated to id order and
/// nothing is stored per id: memory is about 32 bytes a tabulated rank (with `latent_dim` 4), ~34
/// MB at scale 1 (33.8M ids) and ~11 MB at scale 0.01.
///
/// **Dense features.** Integer feature `j` is missing (0) with a hidden rate in [0, 0.45], else
/// `floor(exp(μ_j + σ_j·z))` with hidden μ_j ∈ [−0.5, 4], σ_j ∈ [0.5, 2] and `z` approximately
/// standard normal; the batch holds `log(count + 1)` (as the reader computes it).
///
/// **Labels.** `label ~ Bernoulli(σ(logit))`, with
/// `logit = bias + signal·(Σ_j β_j·(x_j − m_j)/s_j + Σ_f w_f(id_f) + Σ_{f<g} ⟨v_f(id_f),
/// v_g(id_g)⟩)`: a linear term on the standardised dense features, one weight a sparse id and a
/// factorisation machine of latent vectors of `latent_dim` values per id. The per-id parameters are
/// approximately gaussian values generated from a hash of (seed, field, id), so they are fixed by
/// the seed, cost no memory and stay attached to the id when popularity drifts (the tabulated ranks
/// keep a copy). Their scale is the same for every id of a field (fields get hidden importances in
/// [0.25, 1.75]): frequent ids matter more only because they occur more, as in real data, where a
/// rare id's effect is real but seen too seldom to be learnt — which is what compression can afford
/// to lose — and a drift that promotes other ids brings weights just as strong that the model has
/// not learnt yet. Variances: sparse linear 1, pairwise 0.6, dense 0.3 (times `signal²`). `bias` is
/// found by bisection so that the mean click probability on a calibration sample of 16384 draws
/// (spread over up to 8 phases) is `click_rate`; streams then click 25.4–25.8% of the time. The
/// hidden model's own AUC (`click_probability` as the score, the best any model can do) is
/// 0.77–0.81 with the defaults (seeds 1–6, scales 0.01 and 0.1), the order of real CTR data.
///
/// **Streams and drift.** Sample `i` is drawn from its own generator seeded by (seed, stream, i),
/// so the stream does not depend on batch sizes and `reset()` (or the same options) replays it.
/// `stream` changes only the sample randomness: the hidden model and the popularity of each phase
/// depend on the other options alone, so a test generator uses the same options with another
/// `stream` (and its own `samples`). With `drift_phases = P` sample `i` of `samples` belongs to
/// phase `⌊i·P / samples⌋` and every field gets a new popularity bijection in each phase (the
/// popular ids change; their parameters do not). A test stream walks through the same phases in
/// proportion to its own length; `fixed_phase = p` draws every sample from phase `p` instead —
/// `fixed_phase = P − 1` is a test set of the final distribution, the natural target after
/// training on the drifting stream.
///
/// Values are reproducible for a given seed on a given platform (they go through `std::exp`,
/// `std::pow` and `std::log1p` of the C library).

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sample.hpp"

namespace embtab_data {

/// The 26 categorical field cardinalities of Criteo Kaggle (C1..C26; 33,762,577 ids in all).
inline constexpr std::array<std::uint64_t, sparse_fields> criteo_cardinalities = {
    1460, 583,   10131227, 2202608, 305,  24,   12517, 633,     3,  93145, 5683,   8351593, 3194,
    27,   14992, 5461306,  10,      5652, 2173, 4,     7046547, 18, 15,    286181, 105,     142572};

/// Options of `synthetic_criteo`.
struct synthetic_options {
    /// Samples in the stream (`next` returns false after them); at most 2^47.
    std::uint64_t samples = 1'000'000;
    /// Fixes the hidden model, the popularity of every phase and (with `stream`) the samples.
    std::uint64_t seed = 1;
    /// Sample stream: 0 for training, 1 for test, any other value for more independent streams.
    std::uint64_t stream = 0;
    /// Cardinality of each field = max(2, round(Criteo's × scale)); in (0, 100].
    double scale = 0.01;
    /// Zipf exponent `s` of id popularity, in [0, 10] (0 = uniform).
    double zipf_exponent = 1.1;
    /// Phases of equal length with different popular ids (1 = stationary); 1..65536.
    std::size_t drift_phases = 1;
    /// When set, every sample is drawn from this phase's popularity (e.g. the last, for a test
    /// set).
    std::optional<std::size_t> fixed_phase;
    /// Length of the hidden per-id latent vectors (pairwise interactions); 0..64, 0 = none.
    std::size_t latent_dim = 4;
    /// Multiplies the hidden logit around the bias: larger = easier, higher AUC; in [0, 100].
    double signal = 1.0;
    /// Target mean click probability, in (0, 1).
    double click_rate = 0.256;
};

/// A Criteo-shaped synthetic sample stream with a known hidden click model (see the file comment).
class synthetic_criteo {
public:
    /// Ranks per field held in the alias table and the per-phase caches; the rest are sampled by
    /// rejection-inversion and their ids and parameters computed on the fly.
    static constexpr std::size_t tabulated_ranks = std::size_t{1} << 17;
    /// Ranks in the first, small alias table of a field (its 32 KB stay in cache); the others
    /// are drawn from a second table when the first gives "later ranks".
    static constexpr std::size_t first_level_ranks = 4096;

    /// Builds the field tables and calibrates the bias; throws `std::invalid_argument` naming a
    /// bad option and its value.
    explicit synthetic_criteo(const synthetic_options& options = {}) : opt_(options) {
        validate();
        k_ = opt_.latent_dim;
        stride_ = 1 + k_;
        build_hidden_model();
        build_fields();
        calibrate();
        reset();
    }

    /// Fills `b` with the next up to `max_samples` samples (with `click_probability`); false, with
    /// `b.size == 0`, once `samples` have been delivered.
    bool next(batch& b, std::size_t max_samples) {
        if (max_samples == 0)
            throw std::invalid_argument("synthetic_criteo::next: max_samples is 0");
        const auto n = static_cast<std::size_t>(
            std::min<std::uint64_t>(max_samples, opt_.samples - position_));
        b.resize(n);
        b.click_probability.resize(n);
        std::int32_t counts[dense_features];
        for (std::size_t i = 0; i < n; ++i, ++position_)
            draw(position_, b.dense.data() + i * dense_features, counts,
                 b.sparse.data() + i * sparse_fields, b.label[i], b.click_probability[i]);
        return n > 0;
    }

    /// Writes the next up to `max_samples` samples (advancing the stream as `next` does) in Criteo
    /// TSV: label, the integer counts (empty when missing), the ids as 8 lowercase hex digits.
    /// Returns the number written; throws `std::runtime_error` if the stream fails.
    /// `criteo_reader` reads back exactly the batches `next` gives (without `click_probability`).
    std::uint64_t write_tsv(std::ostream& os,
                            std::uint64_t max_samples = std::numeric_limits<std::uint64_t>::max()) {
        const std::uint64_t n = std::min(max_samples, opt_.samples - position_);
        std::string out;
        out.reserve(1 << 16);
        float dense[dense_features];
        std::int32_t counts[dense_features];
        std::uint64_t ids[sparse_fields];
        float label = 0;
        float probability = 0;
        char digits[16];
        for (std::uint64_t i = 0; i < n; ++i, ++position_) {
            draw(position_, dense, counts, ids, label, probability);
            out += label > 0.5f ? '1' : '0';
            for (std::size_t j = 0; j < dense_features; ++j) {
                out += '\t';
                if (counts[j] < 0) continue;  // missing
                const auto r = std::to_chars(digits, digits + sizeof digits, counts[j]);
                out.append(digits, r.ptr);
            }
            for (std::size_t f = 0; f < sparse_fields; ++f) {
                out += '\t';
                for (int d = 7; d >= 0; --d) out += "0123456789abcdef"[(ids[f] >> (4 * d)) & 15];
            }
            out += '\n';
            if (out.size() > (1 << 16) - 512) {
                os.write(out.data(), static_cast<std::streamsize>(out.size()));
                out.clear();
            }
        }
        os.write(out.data(), static_cast<std::streamsize>(out.size()));
        if (!os)
            throw std::runtime_error("synthetic_criteo::write_tsv: the stream failed by sample " +
                                     std::to_string(position_));
        return n;
    }

    /// Rewinds to the first sample: the same stream again.
    void reset() { position_ = 0; }
    /// Samples delivered so far (the index of the next one).
    std::uint64_t position() const noexcept { return position_; }
    /// The options it was built with.
    const synthetic_options& options() const noexcept { return opt_; }
    /// The 26 field cardinalities (ids of field `f` are `0 .. cardinalities()[f] − 1`).
    const std::vector<std::uint64_t>& cardinalities() const noexcept { return cardinalities_; }
    /// The calibrated bias of the hidden logit.
    double bias() const noexcept { return bias_; }

    /// The drift phase sample `i` is drawn from.
    std::size_t phase_of(std::uint64_t i) const noexcept {
        if (opt_.fixed_phase) return *opt_.fixed_phase;
        return static_cast<std::size_t>(i * opt_.drift_phases /
                                        std::max<std::uint64_t>(opt_.samples, 1));
    }
    /// The id whose popularity rank is `rank` (0 = most frequent) in field `field` during `phase`;
    /// throws `std::out_of_range` naming a bad argument.
    std::uint64_t popular_id(std::size_t field, std::uint64_t rank, std::size_t phase) const {
        check_field("popular_id", field);
        if (rank >= fields_[field].n)
            throw std::out_of_range("synthetic_criteo::popular_id: rank " + std::to_string(rank) +
                                    " of field " + std::to_string(field) + " is not below " +
                                    std::to_string(fields_[field].n));
        if (phase >= opt_.drift_phases)
            throw std::out_of_range(
                "synthetic_criteo::popular_id: phase " + std::to_string(phase) +
                " is not below drift_phases = " + std::to_string(opt_.drift_phases));
        return rank_to_id(fields_[field], rank, popularity_key(field, phase));
    }
    /// The probability of popularity rank `rank` of field `field` (the same in every phase).
    double rank_probability(std::size_t field, std::uint64_t rank) const {
        check_field("rank_probability", field);
        const field_state& fs = fields_[field];
        if (rank >= fs.n) return 0;
        return std::pow(static_cast<double>(rank + 1), -opt_.zipf_exponent) / fs.total_mass;
    }

private:
    // --- hashing and random numbers -----------------------------------------------------------

    static constexpr std::uint64_t golden = 0x9e3779b97f4a7c15ULL;

    static std::uint64_t mix(std::uint64_t z) noexcept {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // A key for (seed, purpose, a, b): distinct arguments give independent-looking keys.
    std::uint64_t key(std::uint64_t purpose, std::uint64_t a, std::uint64_t b = 0) const noexcept {
        return mix(mix(mix(opt_.seed + golden * (purpose + 1)) + golden * (a + 1)) ^ (b * golden));
    }

    // SplitMix64, inline for speed.
    struct rng {
        std::uint64_t state;
        std::uint64_t next() noexcept { return mix(state += golden); }
        double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
        float uniform_f() noexcept { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
    };

    // Approximately standard normal from 64 random bits: the sum of four 16-bit uniforms,
    // centred and scaled to unit variance (Irwin–Hall; bounded by ±3.46).
    static float gauss(std::uint64_t h) noexcept {
        const std::uint64_t s =
            (h & 0xffff) + ((h >> 16) & 0xffff) + ((h >> 32) & 0xffff) + (h >> 48);
        return (static_cast<float>(s) - 131070.0f) * (1.0f / 37837.23f);
    }

    // --- fields -------------------------------------------------------------------------------

    struct alias_entry {
        std::uint32_t
            threshold;        // keep the bucket's own rank when the low 32 random bits are below
        std::uint32_t alias;  // ... else this bucket (the last may stand for later ranks)
    };

    // An alias table over the ranks `first .. first + ranks − 1`, plus one bucket for all later
    // ranks when there are any (the next level, or the tail).
    struct alias_level {
        std::uint64_t first = 0;
        std::uint64_t ranks = 0;
        std::uint64_t buckets = 0;
        std::vector<alias_entry> table;
    };

    struct field_state {
        std::uint64_t n = 0;              // cardinality
        std::uint64_t head_ranks = 0;     // tabulated ranks: min(n, tabulated_ranks)
        std::vector<alias_level> levels;  // ranks [0, 4096), then [4096, head_ranks)
        double tail_lo = 0, tail_hi = 0;  // H(head_ranks + ½), H(n + ½): rejection-inversion
        double total_mass = 0;            // Σ (r+1)^−s over all ranks
        unsigned bits = 0;                // the bijection's domain is [0, 2^bits)
        std::uint64_t param_key = 0;      // hidden per-id parameters
        float w_scale = 0, v_scale = 0;   // sd of the per-id weight and latent values
        std::vector<float> head;  // cached for the current phase, 2 + k values a rank: the bits
                                  // of its 32-bit id, then its 1 + k parameters
    };

    void validate() const {
        auto bad = [](const std::string& what) {
            throw std::invalid_argument("synthetic_criteo: " + what);
        };
        if (!(opt_.scale > 0 && opt_.scale <= 100))
            bad("scale = " + std::to_string(opt_.scale) + " is not in (0, 100]");
        if (!(opt_.zipf_exponent >= 0 && opt_.zipf_exponent <= 10))
            bad("zipf_exponent = " + std::to_string(opt_.zipf_exponent) + " is not in [0, 10]");
        if (opt_.drift_phases < 1 || opt_.drift_phases > 65536)
            bad("drift_phases = " + std::to_string(opt_.drift_phases) + " is not in 1..65536");
        if (opt_.samples > (std::uint64_t{1} << 47))
            bad("samples = " + std::to_string(opt_.samples) + " is above 2^47");
        if (opt_.fixed_phase && *opt_.fixed_phase >= opt_.drift_phases)
            bad("fixed_phase = " + std::to_string(*opt_.fixed_phase) +
                " is not below drift_phases = " + std::to_string(opt_.drift_phases));
        if (opt_.latent_dim > 64)
            bad("latent_dim = " + std::to_string(opt_.latent_dim) + " is above 64");
        if (!(opt_.signal >= 0 && opt_.signal <= 100))
            bad("signal = " + std::to_string(opt_.signal) + " is not in [0, 100]");
        if (!(opt_.click_rate > 0 && opt_.click_rate < 1))
            bad("click_rate = " + std::to_string(opt_.click_rate) + " is not in (0, 1)");
    }

    void check_field(const char* who, std::size_t field) const {
        if (field >= sparse_fields)
            throw std::out_of_range(std::string("synthetic_criteo::") + who + ": field " +
                                    std::to_string(field) + " is not below " +
                                    std::to_string(sparse_fields));
    }

    // ∫_1^x t^−s dt, stable for s near 1 (log1p/expm1 helpers as in Hörmann & Derflinger).
    double big_h(double x) const noexcept {
        const double l = std::log(x);
        const double y = (1 - opt_.zipf_exponent) * l;
        return std::abs(y) > 1e-8 ? std::expm1(y) / y * l : (1 + 0.5 * y) * l;
    }
    double big_h_inverse(double u) const noexcept {
        const double y = (1 - opt_.zipf_exponent) * u;
        return std::exp(std::abs(y) > 1e-8 ? std::log1p(y) / y * u : (1 - 0.5 * y) * u);
    }
    double zipf_h(double x) const noexcept { return std::exp(-opt_.zipf_exponent * std::log(x)); }

    void build_hidden_model() {
        // Field importances, then scales so the sparse linear and pairwise variances are fixed.
        std::array<double, sparse_fields> importance{};
        double sum = 0;
        for (std::size_t f = 0; f < sparse_fields; ++f) {
            rng r{key(1, f)};
            importance[f] = 0.25 + 1.5 * r.uniform();
            sum += importance[f];
        }
        double pairs = 0;  // Σ_{f<g} a_f a_g
        for (std::size_t f = 0; f < sparse_fields; ++f)
            for (std::size_t g = f + 1; g < sparse_fields; ++g)
                pairs += importance[f] * importance[g];
        const double t = k_ ? std::sqrt(pairwise_variance / (static_cast<double>(k_) * pairs)) : 0;
        fields_.resize(sparse_fields);
        for (std::size_t f = 0; f < sparse_fields; ++f) {
            fields_[f].param_key = key(2, f);
            fields_[f].w_scale =
                static_cast<float>(std::sqrt(linear_variance * importance[f] / sum));
            fields_[f].v_scale = static_cast<float>(std::sqrt(t * importance[f]));
        }
        const double dense_sd = std::sqrt(dense_variance / static_cast<double>(dense_features));
        for (std::size_t j = 0; j < dense_features; ++j) {
            rng r{key(3, j)};
            missing_rate_[j] = 0.45f * r.uniform_f();
            mu_[j] = -0.5f + 4.5f * r.uniform_f();
            sigma_[j] = 0.5f + 1.5f * r.uniform_f();
            beta_[j] = static_cast<float>(dense_sd) * gauss(r.next());
        }
        for (std::size_t c = 0; c < log1p_table_.size(); ++c)
            log1p_table_[c] = static_cast<float>(std::log1p(static_cast<double>(c)));
    }

    // Vose's alias method over the weights `p` (destroyed).
    static void build_alias(std::vector<double>& p, std::vector<alias_entry>& table) {
        const std::size_t m = p.size();
        const double total = std::accumulate(p.begin(), p.end(), 0.0);
        table.resize(m);
        std::vector<std::uint32_t> small, large;
        for (std::size_t i = 0; i < m; ++i) {
            table[i] = {0xffffffffu, static_cast<std::uint32_t>(i)};
            p[i] *= static_cast<double>(m) / total;
            (p[i] < 1 ? small : large).push_back(static_cast<std::uint32_t>(i));
        }
        while (!small.empty() && !large.empty()) {
            const std::uint32_t lo = small.back(), hi = large.back();
            small.pop_back();
            table[lo] = {static_cast<std::uint32_t>(std::min(p[lo] * 0x1.0p32, 4294967295.0)), hi};
            p[hi] -= 1 - p[lo];
            if (p[hi] < 1) {
                large.pop_back();
                small.push_back(hi);
            }
        }
    }

    void build_fields() {
        const double s = opt_.zipf_exponent;
        cardinalities_.resize(sparse_fields);
        std::vector<double> p, q;
        for (std::size_t f = 0; f < sparse_fields; ++f) {
            field_state& fs = fields_[f];
            fs.n = std::max<std::uint64_t>(
                2, static_cast<std::uint64_t>(
                       std::llround(static_cast<double>(criteo_cardinalities[f]) * opt_.scale)));
            cardinalities_[f] = fs.n;
            fs.head_ranks = std::min<std::uint64_t>(fs.n, tabulated_ranks);
            while ((std::uint64_t{1} << fs.bits) < fs.n) ++fs.bits;

            // Masses: the tabulated ranks one by one, the tail by Euler–Maclaurin.
            p.assign(static_cast<std::size_t>(fs.head_ranks), 0.0);
            double mass = 0;
            for (std::uint64_t r = 0; r < fs.head_ranks; ++r)
                mass += p[r] = zipf_h(static_cast<double>(r + 1));
            double beyond = 0;  // mass of the ranks after the current level
            if (fs.n > fs.head_ranks) {
                const double a = static_cast<double>(fs.head_ranks + 1);
                const double b = static_cast<double>(fs.n);
                beyond = big_h(b) - big_h(a) + 0.5 * (zipf_h(a) + zipf_h(b)) +
                         s / 12 * (zipf_h(a) / a - zipf_h(b) / b);
                mass += beyond;
                fs.tail_lo = big_h(a - 0.5);
                fs.tail_hi = big_h(b + 0.5);
            }
            fs.total_mass = mass;

            // The levels' alias tables, built from the last one back.
            fs.levels.clear();
            for (std::uint64_t first : {std::uint64_t{0}, first_level_ranks})
                if (first < fs.head_ranks) fs.levels.push_back({first, 0, 0, {}});
            for (std::size_t l = fs.levels.size(); l-- > 0;) {
                alias_level& lv = fs.levels[l];
                const std::uint64_t last =
                    l + 1 < fs.levels.size() ? fs.levels[l + 1].first : fs.head_ranks;
                lv.ranks = last - lv.first;
                const bool more = beyond > 0;
                lv.buckets = lv.ranks + (more ? 1 : 0);
                q.assign(p.begin() + static_cast<std::ptrdiff_t>(lv.first),
                         p.begin() + static_cast<std::ptrdiff_t>(last));
                if (more) q.push_back(beyond);
                beyond = std::accumulate(q.begin(), q.end(), 0.0);  // this level and what follows
                build_alias(q, lv.table);
            }
            fs.head.resize(static_cast<std::size_t>(fs.head_ranks) * (1 + stride_));
        }
    }

    // --- ranks, ids, parameters ---------------------------------------------------------------

    std::uint64_t popularity_key(std::size_t field, std::size_t phase) const noexcept {
        return key(4, field, phase);
    }

    // A keyed bijection of [0, 2^bits): rounds of odd multiply, xor-shift, add (each invertible).
    static std::uint64_t permute(std::uint64_t x, unsigned bits, std::uint64_t k) noexcept {
        const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
        const unsigned shift = (bits + 1) / 2;
        for (int round = 0; round < 4; ++round) {
            k = mix(k + golden);
            x = (x * (k | 1)) & mask;
            x ^= x >> shift;
            x = (x + (k >> 32)) & mask;
        }
        return x;
    }
    // Cycle-walking restricts the bijection to [0, n).
    static std::uint64_t rank_to_id(const field_state& fs, std::uint64_t rank,
                                    std::uint64_t k) noexcept {
        std::uint64_t x = rank;
        do x = permute(x, fs.bits, k);
        while (x >= fs.n);
        return x;
    }

    // The 1 + k hidden parameters of `id`: its weight, then its latent vector.
    void id_params(const field_state& fs, std::uint64_t id, float* out) const noexcept {
        const std::uint64_t base = mix(fs.param_key + id * golden);
        out[0] = fs.w_scale * gauss(base);
        for (std::size_t c = 0; c < k_; ++c)
            out[1 + c] = fs.v_scale * gauss(mix(base + (c + 1) * golden));
    }

    // Fills the per-phase caches of the tabulated ranks.
    void set_phase(std::size_t phase) {
        if (cached_phase_ == phase) return;
        for (std::size_t f = 0; f < sparse_fields; ++f) {
            field_state& fs = fields_[f];
            const std::uint64_t k = popularity_key(f, phase);
            for (std::size_t r = 0; r < fs.head_ranks; ++r) {
                const auto id = static_cast<std::uint32_t>(rank_to_id(fs, r, k));
                float* entry = fs.head.data() + r * (1 + stride_);
                std::memcpy(entry, &id, sizeof id);
                id_params(fs, id, entry + 1);
            }
        }
        cached_phase_ = phase;
        phase_key_.resize(sparse_fields);
        for (std::size_t f = 0; f < sparse_fields; ++f) phase_key_[f] = popularity_key(f, phase);
    }

    // A rank beyond the tabulated ones, by rejection-inversion.
    std::uint64_t draw_tail(const field_state& fs, rng& r) const noexcept {
        for (;;) {
            const double u = fs.tail_lo + r.uniform() * (fs.tail_hi - fs.tail_lo);
            const double x = big_h_inverse(u);
            auto k = static_cast<std::uint64_t>(x + 0.5);  // 1-based rank
            k = std::clamp<std::uint64_t>(k, fs.head_ranks + 1, fs.n);
            const double kd = static_cast<double>(k);
            if (u >= big_h(kd + 0.5) - zipf_h(kd)) return k - 1;
        }
    }

    // Draws one sample under the cached phase: ids, counts (−1 = missing), log-transformed dense
    // values; returns the sparse part of the hidden logit (before `signal`).
    float draw_features(rng& r, std::uint64_t* ids, std::int32_t* counts,
                        float* dense) const noexcept {
        float linear = 0;
        float v_sum[64 + 1];
        float v_sq[64 + 1];
        std::fill(v_sum, v_sum + k_, 0.0f);
        std::fill(v_sq, v_sq + k_, 0.0f);
        float scratch[64 + 1];
        std::uint64_t ranks[sparse_fields];
        for (std::size_t f = 0; f < sparse_fields; ++f) {  // ranks first: the loads overlap
            const field_state& fs = fields_[f];
            ranks[f] = fs.head_ranks;  // the tail unless a level takes it
            for (const alias_level& lv : fs.levels) {
                const std::uint64_t u = r.next();
                const std::uint64_t bucket = ((u >> 32) * lv.buckets) >> 32;
                const alias_entry& e = lv.table[bucket];
                const std::uint64_t local =
                    static_cast<std::uint32_t>(u) < e.threshold ? bucket : e.alias;
                if (local < lv.ranks) {
                    ranks[f] = lv.first + local;
                    break;
                }
            }
        }
        for (std::size_t f = 0; f < sparse_fields; ++f) {
            const field_state& fs = fields_[f];
            const float* params = scratch;
            if (ranks[f] < fs.head_ranks) {
                const float* entry = fs.head.data() + ranks[f] * (1 + stride_);
                std::uint32_t id;
                std::memcpy(&id, entry, sizeof id);
                ids[f] = id;
                params = entry + 1;
            } else {
                ids[f] = rank_to_id(fs, draw_tail(fs, r), phase_key_[f]);
                id_params(fs, ids[f], scratch);
            }
            linear += params[0];
            for (std::size_t c = 0; c < k_; ++c) {
                v_sum[c] += params[1 + c];
                v_sq[c] += params[1 + c] * params[1 + c];
            }
        }
        float pairwise = 0;
        for (std::size_t c = 0; c < k_; ++c) pairwise += v_sum[c] * v_sum[c] - v_sq[c];
        for (std::size_t j = 0; j < dense_features; ++j) {
            if (r.uniform_f() < missing_rate_[j]) {
                counts[j] = -1;
                dense[j] = 0;
                continue;
            }
            const float e = std::exp(mu_[j] + sigma_[j] * gauss(r.next()));
            const auto c =
                static_cast<std::int32_t>(std::min(e, static_cast<float>(log1p_table_.size() - 1)));
            counts[j] = c;
            dense[j] = log1p_table_[static_cast<std::size_t>(c)];
        }
        return linear + 0.5f * pairwise;
    }

    // Sample `i` of the stream.
    void draw(std::uint64_t i, float* dense, std::int32_t* counts, std::uint64_t* ids, float& label,
              float& probability) {
        set_phase(phase_of(i));
        rng r{stream_key_ + i * golden};
        r.state = mix(r.state);
        float z = static_cast<float>(signal_) * draw_features(r, ids, counts, dense) +
                  dense_offset_ + bias_f_;
        for (std::size_t j = 0; j < dense_features; ++j) z += dense_weight_[j] * dense[j];
        probability = 1.0f / (1.0f + std::exp(-z));
        label = r.uniform_f() < probability ? 1.0f : 0.0f;
    }

    // Standardises the dense features and finds the bias on a calibration sample.
    void calibrate() {
        constexpr std::size_t draws = 16384;
        const std::size_t phases = std::min<std::size_t>(opt_.drift_phases, 8);
        std::vector<float> dense(draws * dense_features), sparse_part(draws);
        std::uint64_t ids[sparse_fields];
        std::int32_t counts[dense_features];
        for (std::size_t i = 0; i < draws; ++i) {
            set_phase(i * phases / draws * opt_.drift_phases / phases);
            rng r{key(5, i)};
            sparse_part[i] = draw_features(r, ids, counts, dense.data() + i * dense_features);
        }
        double offset = 0;
        for (std::size_t j = 0; j < dense_features; ++j) {
            double sum = 0, sq = 0;
            for (std::size_t i = 0; i < draws; ++i) {
                const double x = dense[i * dense_features + j];
                sum += x;
                sq += x * x;
            }
            const double mean = sum / draws;
            const double sd = std::max(std::sqrt(std::max(sq / draws - mean * mean, 0.0)), 1e-3);
            dense_weight_[j] = static_cast<float>(opt_.signal * beta_[j] / sd);
            offset -= opt_.signal * beta_[j] * mean / sd;
        }
        dense_offset_ = static_cast<float>(offset);
        std::vector<double> z(draws);
        for (std::size_t i = 0; i < draws; ++i) {
            double v = opt_.signal * sparse_part[i] + offset;
            for (std::size_t j = 0; j < dense_features; ++j)
                v += dense_weight_[j] * dense[i * dense_features + j];
            z[i] = v;
        }
        double lo = -40, hi = 40;
        for (int it = 0; it < 60; ++it) {
            const double mid = 0.5 * (lo + hi);
            double mean = 0;
            for (double v : z) mean += 1 / (1 + std::exp(-(v + mid)));
            (mean / draws < opt_.click_rate ? lo : hi) = mid;
        }
        bias_ = 0.5 * (lo + hi);
        bias_f_ = static_cast<float>(bias_);
        signal_ = opt_.signal;
        stream_key_ = key(6, opt_.stream);
    }

    static constexpr double linear_variance = 1.0, pairwise_variance = 0.6, dense_variance = 0.3;

    synthetic_options opt_;
    std::size_t k_ = 0;       // latent_dim
    std::size_t stride_ = 1;  // 1 + k_
    std::vector<field_state> fields_;
    std::vector<std::uint64_t> cardinalities_;
    std::vector<std::uint64_t> phase_key_;
    std::size_t cached_phase_ = std::numeric_limits<std::size_t>::max();
    std::array<float, dense_features> missing_rate_{}, mu_{}, sigma_{}, beta_{}, dense_weight_{};
    std::vector<float> log1p_table_ =
        std::vector<float>(65536);  // log(c + 1) as the reader computes it
    float dense_offset_ = 0;
    double bias_ = 0;
    float bias_f_ = 0;
    double signal_ = 1;
    std::uint64_t stream_key_ = 0;
    std::uint64_t position_ = 0;
};

}  // namespace embtab_data
