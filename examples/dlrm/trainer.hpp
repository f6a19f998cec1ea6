#pragma once
/// \file examples/dlrm/trainer.hpp One epoch of DLRM training over an embtab table, then test
/// AUC and log-loss; a grid of (method, ratio) runs on a few threads; progress on stderr; the
/// results as a text table, CSV and JSON.
///
/// The data sources (`examples/data/`) meet the model here and only here: `load_dataset` reads
/// any source with `bool next(embtab_data::batch&, std::size_t)` into memory and maps each
/// field's value to a global id of the one table (`id_mapping`), so that every run of a grid
/// trains on exactly the same samples, and several runs share them from different threads.

#include <embtab/embtab.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iomanip>
#include <limits>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "../data/auc.hpp"
#include "../data/criteo_reader.hpp"
#include "../data/sample.hpp"
#include "../data/synthetic_criteo.hpp"
#include "dlrm.hpp"
#include "methods.hpp"

namespace embtab_dlrm {

// ---------------------------------------------------------------------------------------------
// Data: a source's batches in memory, values mapped to global ids.

/// How the sparse value of field `f` becomes a global id of the one table: ids of field `f`
/// are `[offset_f, offset_f + size_f)`, `offset_f` = sum of the sizes before it.
class id_mapping {
public:
    /// Values are already ids `0 .. size_f − 1` (synthetic data): global id = offset + value; a
    /// value out of range throws `std::out_of_range`.
    static id_mapping direct(std::vector<std::uint64_t> sizes) {
        return id_mapping(std::move(sizes), false, 0);
    }
    /// Any 64-bit value (real Criteo data: 32-bit hashes and "missing") is hashed into `size_f`
    /// buckets: global id = offset + mix(value, seed, f) mod size_f — the hashing trick that
    /// Criteo pipelines apply per field anyway, here before the table sees the id.
    static id_mapping hashed(std::vector<std::uint64_t> sizes, std::uint64_t seed) {
        return id_mapping(std::move(sizes), true, seed);
    }

    /// Ids of each field.
    const std::vector<std::uint64_t>& field_sizes() const noexcept { return sizes_; }
    /// n: ids of all fields.
    std::uint64_t ids() const noexcept { return offsets_.back(); }
    /// True when values are hashed.
    bool is_hashed() const noexcept { return hashed_; }
    /// The global id of `value` in field `f` (`f` < fields, unchecked).
    std::int32_t operator()(std::size_t f, std::uint64_t value) const {
        if (hashed_) {
            std::uint64_t z = value + seed_ + 0x9e3779b97f4a7c15ULL * (f + 1);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            return static_cast<std::int32_t>(offsets_[f] + z % sizes_[f]);
        }
        if (value >= sizes_[f])
            throw std::out_of_range("id_mapping: value " + std::to_string(value) + " of field " +
                                    std::to_string(f) + " is not below its " +
                                    std::to_string(sizes_[f]) + " ids");
        return static_cast<std::int32_t>(offsets_[f] + value);
    }

private:
    id_mapping(std::vector<std::uint64_t> sizes, bool hashed, std::uint64_t seed)
        : sizes_(std::move(sizes)), hashed_(hashed), seed_(seed) {
        if (sizes_.size() != embtab_data::sparse_fields)
            throw std::invalid_argument("id_mapping: " + std::to_string(sizes_.size()) +
                                        " field sizes; expected " +
                                        std::to_string(embtab_data::sparse_fields));
        offsets_.push_back(0);
        for (std::size_t f = 0; f < sizes_.size(); ++f) {
            if (sizes_[f] == 0)
                throw std::invalid_argument("id_mapping: field " + std::to_string(f) +
                                            " has no ids");
            offsets_.push_back(offsets_.back() + sizes_[f]);
        }
        if (offsets_.back() > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
            throw std::invalid_argument("id_mapping: " + std::to_string(offsets_.back()) +
                                        " ids do not fit 32-bit ids; lower the scale");
    }

    std::vector<std::uint64_t> sizes_;
    std::vector<std::uint64_t> offsets_;
    bool hashed_;
    std::uint64_t seed_;
};

/// Samples held in memory: what every run of a grid trains or tests on.
struct dataset {
    std::size_t size = 0;                  ///< samples
    std::vector<float> dense;              ///< `size × 13`, row-major, log-transformed
    std::vector<std::int32_t> ids;         ///< `size × 26` global ids, sample by sample
    std::vector<float> label;              ///< `size` labels, 0 or 1
    std::vector<float> click_probability;  ///< true probabilities (synthetic data), else empty

    /// The ids of samples `[first, first + n)`.
    embtab::span<const std::int32_t> ids_of(std::size_t first, std::size_t n) const noexcept {
        return {ids.data() + first * embtab_data::sparse_fields, n * embtab_data::sparse_fields};
    }
};

/// Reads up to `max_samples` samples of `source` (any type with `bool next(embtab_data::batch&,
/// std::size_t)`) into memory, mapping sparse values with `mapping`.
template <class Source>
dataset load_dataset(Source& source, std::uint64_t max_samples, const id_mapping& mapping) {
    constexpr std::size_t chunk = 8192;
    constexpr std::size_t fields = embtab_data::sparse_fields;
    dataset d;
    const auto reserve = static_cast<std::size_t>(std::min<std::uint64_t>(max_samples, 1u << 26));
    d.dense.reserve(reserve * embtab_data::dense_features);
    d.ids.reserve(reserve * fields);
    d.label.reserve(reserve);
    embtab_data::batch b;
    while (d.size < max_samples) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, max_samples - d.size));
        if (!source.next(b, want) || b.size == 0) break;
        d.dense.insert(d.dense.end(), b.dense.begin(),
                       b.dense.begin() + static_cast<std::ptrdiff_t>(b.size * embtab_data::dense_features));
        for (std::size_t i = 0; i < b.size; ++i)
            for (std::size_t f = 0; f < fields; ++f)
                d.ids.push_back(mapping(f, b.sparse[i * fields + f]));
        d.label.insert(d.label.end(), b.label.begin(), b.label.begin() + static_cast<std::ptrdiff_t>(b.size));
        if (b.click_probability.size() >= b.size)
            d.click_probability.insert(d.click_probability.end(), b.click_probability.begin(),
                                       b.click_probability.begin() + static_cast<std::ptrdiff_t>(b.size));
        d.size += b.size;
    }
    if (d.click_probability.size() != d.size) d.click_probability.clear();
    return d;
}

/// Occurrences of every global id `[0, n)` in the first `samples` samples of `data` (all of
/// them by default), saturating at 2^32 − 1.
inline std::vector<std::uint32_t> count_ids(const dataset& data, std::uint64_t n,
                                            std::size_t samples = std::size_t(-1)) {
    std::vector<std::uint32_t> counts(static_cast<std::size_t>(n), 0);
    samples = std::min(samples, data.size);
    for (std::int32_t id : data.ids_of(0, samples)) {
        auto& c = counts[static_cast<std::size_t>(id)];
        if (c != std::numeric_limits<std::uint32_t>::max()) ++c;
    }
    return counts;
}

/// Training and test samples of one scenario, the ids they use, and (synthetic data) the
/// hidden model's own test figures — the best any model can do.
struct data_setup {
    dataset train;                           ///< training samples, in stream order
    dataset test;                            ///< test samples
    std::vector<std::uint64_t> field_sizes;  ///< ids of each field
    double optimum_auc = std::numeric_limits<double>::quiet_NaN();       ///< hidden model's AUC
    double optimum_log_loss = std::numeric_limits<double>::quiet_NaN();  ///< and log-loss
    std::string description;                 ///< one line: what the data is
};

/// Field sizes at `scale`: max(2, round(Criteo Kaggle's cardinality × scale)) — the synthetic
/// generator's, and the hash spaces of real Criteo data.
inline std::vector<std::uint64_t> scaled_cardinalities(double scale) {
    std::vector<std::uint64_t> sizes;
    for (std::uint64_t c : embtab_data::criteo_cardinalities)
        sizes.push_back(std::max<std::uint64_t>(
            2, static_cast<std::uint64_t>(std::llround(static_cast<double>(c) * scale))));
    return sizes;
}

/// Synthetic Criteo-shaped data (`examples/data/synthetic_criteo.hpp`): `train` samples of
/// stream 0, `test` of stream 1, same hidden model. With `drift_phases` > 1 the training
/// stream walks through the phases and the test set is drawn from the last one (the
/// distribution the model will serve next).
inline data_setup synthetic_setup(double scale, std::uint64_t train, std::uint64_t test,
                                  std::size_t drift_phases, std::uint64_t seed) {
    embtab_data::synthetic_options o;
    o.scale = scale;
    o.seed = seed;
    o.samples = train;
    o.drift_phases = drift_phases;
    embtab_data::synthetic_criteo train_source(o);
    o.stream = 1;
    o.samples = test;
    if (drift_phases > 1) o.fixed_phase = drift_phases - 1;
    embtab_data::synthetic_criteo test_source(o);
    data_setup s;
    s.field_sizes = train_source.cardinalities();
    const id_mapping mapping = id_mapping::direct(s.field_sizes);
    s.train = load_dataset(train_source, train, mapping);
    s.test = load_dataset(test_source, test, mapping);
    if (s.test.size > 0 && s.test.click_probability.size() == s.test.size) {
        s.optimum_auc = embtab_data::roc_auc(s.test.click_probability, s.test.label);
        s.optimum_log_loss = embtab_data::log_loss(s.test.click_probability, s.test.label);
    }
    std::ostringstream d;
    d << "synthetic Criteo-shaped data, scale " << scale << " (" << mapping.ids() << " ids), "
      << s.train.size << " train / " << s.test.size << " test samples, seed " << seed;
    if (drift_phases > 1)
        d << ", drift: " << drift_phases << " phases, test = last phase";
    s.description = d.str();
    return s;
}

/// Real Criteo data from a TSV file: the first `train` samples train, the next `test` test.
/// Each field's 32-bit value (or "missing") is hashed into max(2, round(cardinality × scale))
/// ids (`id_mapping::hashed`), so scale 1 gives Criteo Kaggle's 33.8M ids.
inline data_setup criteo_setup(const std::string& path, double scale, std::uint64_t train,
                               std::uint64_t test, std::uint64_t seed) {
    embtab_data::criteo_reader reader(path);
    data_setup s;
    s.field_sizes = scaled_cardinalities(scale);
    const id_mapping mapping = id_mapping::hashed(s.field_sizes, seed);
    s.train = load_dataset(reader, train, mapping);
    s.test = load_dataset(reader, test, mapping);
    std::ostringstream d;
    d << "Criteo TSV " << path << ", values hashed into " << mapping.ids() << " ids (scale "
      << scale << "), " << s.train.size << " train / " << s.test.size << " test samples";
    s.description = d.str();
    return s;
}

/// The comma-separated items of `list` ("a,b,c"), empty items dropped.
inline std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> items;
    std::string item;
    std::istringstream in(list);
    while (std::getline(in, item, ','))
        if (!item.empty()) items.push_back(item);
    return items;
}

/// The numbers of a comma-separated list; throws `std::invalid_argument` naming a bad item.
inline std::vector<double> parse_numbers(const std::string& list, const char* what) {
    std::vector<double> out;
    for (const std::string& item : split_list(list)) {
        std::size_t used = 0;
        double x = 0;
        try {
            x = std::stod(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || !std::isfinite(x))
            throw std::invalid_argument(std::string(what) + ": '" + item + "' is not a number");
        out.push_back(x);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr.

/// Counts samples done across all runs (from any thread) and prints, on stderr, at most one
/// line every `interval` seconds: samples done, samples/s, ETA, runs done.
class progress {
public:
    /// `total` samples expected over `runs` runs; silent when `enabled` is false.
    progress(std::uint64_t total, std::size_t runs, bool enabled, double interval = 2.0)
        : total_(total), runs_(runs), enabled_(enabled), interval_(interval),
          start_(clock::now()), last_(start_) {}

    /// Adds `samples` done; may print.
    void add(std::uint64_t samples) {
        const std::uint64_t done = done_.fetch_add(samples) + samples;
        if (!enabled_) return;
        std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
        if (!lock.owns_lock()) return;
        const auto now = clock::now();
        if (std::chrono::duration<double>(now - last_).count() < interval_) return;
        last_ = now;
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const double rate = static_cast<double>(done) / std::max(elapsed, 1e-9);
        const double left = total_ > done ? static_cast<double>(total_ - done) / std::max(rate, 1e-9) : 0;
        std::fprintf(stderr, "  %s / %s samples (%.0f%%), %s samples/s, ETA %s, %zu/%zu runs done\n",
                     si(static_cast<double>(done)).c_str(), si(static_cast<double>(total_)).c_str(),
                     100.0 * static_cast<double>(done) / std::max<double>(1, static_cast<double>(total_)),
                     si(rate).c_str(), clock_time(left).c_str(), runs_done_.load(), runs_);
    }
    /// Adds `samples` to the samples expected (a run started again).
    void add_total(std::uint64_t samples) { total_ += samples; }
    /// Marks one run done (its samples, if it stopped early, are taken off the total).
    void run_done(std::uint64_t samples_not_done = 0) {
        ++runs_done_;
        total_ -= std::min<std::uint64_t>(total_, samples_not_done);
    }

    /// `x` with a k / M / G suffix, three significant digits.
    static std::string si(double x) {
        const char* suffix[] = {"", "k", "M", "G", "T"};
        int i = 0;
        while (std::fabs(x) >= 999.5 && i < 4) x /= 1000, ++i;
        char buf[32];
        std::snprintf(buf, sizeof buf, x >= 99.95 || i == 0 ? "%.0f%s" : x >= 9.995 ? "%.1f%s" : "%.2f%s", x, suffix[i]);
        return buf;
    }
    /// Seconds as m:ss (or h:mm:ss).
    static std::string clock_time(double seconds) {
        const auto s = static_cast<long>(std::lround(std::max(seconds, 0.0)));
        char buf[32];
        if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
        else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
        return buf;
    }

private:
    using clock = std::chrono::steady_clock;
    std::atomic<std::uint64_t> done_{0};
    std::atomic<std::uint64_t> total_;
    std::atomic<std::size_t> runs_done_{0};
    std::size_t runs_;
    bool enabled_;
    double interval_;
    clock::time_point start_, last_;
    std::mutex mutex_;
};

// ---------------------------------------------------------------------------------------------
// One run: an epoch of training, then the test figures.

/// The training loss became NaN or infinite: the rates are too high for this table.
struct training_diverged : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Training hyper-parameters.
struct train_options {
    std::size_t batch = 256;      ///< samples a step
    float lr = 0.2f;              ///< SGD rate of the MLPs
    std::size_t eval_batch = 4096;///< samples a step when testing
};

/// What one run measured.
struct run_result {
    std::string method;            ///< method name
    double ratio = 1;              ///< compression asked for (n·d·4 / budget)
    double achieved = 1;           ///< n·d·4 / memory_bytes().total()
    embtab::memory_usage memory;   ///< the table's memory, itemised
    double auc = std::numeric_limits<double>::quiet_NaN();       ///< test ROC AUC
    double log_loss = std::numeric_limits<double>::quiet_NaN();  ///< test log-loss (nats)
    double train_loss = std::numeric_limits<double>::quiet_NaN();///< mean training loss
    double samples_per_second = 0; ///< training throughput (lookup, model, update)
    double train_seconds = 0;      ///< training wall time
    float table_lr = 0;            ///< SGD rate the table trained with
    std::string error;             ///< why the run did not happen ("n/a" cells), else empty

    /// True when the run happened.
    bool ok() const noexcept { return error.empty(); }
    /// True when the run started but its loss or gradients became NaN / infinite.
    bool diverged() const noexcept { return error.rfind("training diverged", 0) == 0; }
};

/// Test AUC and log-loss of `model` with `table` on `test`.
template <class Table>
std::pair<double, double> evaluate(dlrm& model, const Table& table, const dataset& test,
                                   std::size_t eval_batch) {
    if (test.size == 0) throw std::invalid_argument("evaluate: the test set is empty");
    std::vector<float> logits(test.size), probability(test.size);
    for (std::size_t first = 0; first < test.size; first += eval_batch) {
        const std::size_t n = std::min(eval_batch, test.size - first);
        model.predict(table, test.dense.data() + first * embtab_data::dense_features,
                      test.ids_of(first, n), n, logits.data() + first);
    }
    for (std::size_t i = 0; i < test.size; ++i)
        probability[i] = 1.0f / (1.0f + std::exp(-logits[i]));
    return {embtab_data::roc_auc(probability, test.label),
            embtab_data::log_loss_from_logits(logits, test.label)};
}

/// One epoch of `train` (in order, `opts.batch` samples a step), then the test figures.
/// `table` is anything with the shared interface (an `embtab::any_table` here).
template <class Table>
run_result train_and_evaluate(dlrm& model, Table& table, const dataset& train,
                              const dataset& test, const train_options& opts,
                              progress* report = nullptr) {
    if (opts.batch == 0 || opts.eval_batch == 0)
        throw std::invalid_argument("train_and_evaluate: batch sizes must be at least 1");
    run_result r;
    double loss_sum = 0;
    std::uint64_t pending = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t first = 0; first < train.size; first += opts.batch) {
        const std::size_t n = std::min(opts.batch, train.size - first);
        const double loss = model.train_step(
            table, train.dense.data() + first * embtab_data::dense_features,
            train.ids_of(first, n), train.label.data() + first, n, opts.lr, opts.batch);
        if (!std::isfinite(loss))
            throw training_diverged("training diverged (loss " + std::to_string(loss) +
                                    " at sample " + std::to_string(first) + "); lower the rates");
        loss_sum += loss * static_cast<double>(n);
        if (report && (pending += n) >= 16384) {
            report->add(pending);
            pending = 0;
        }
    }
    r.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (report) report->add(pending);
    r.samples_per_second = static_cast<double>(train.size) / std::max(r.train_seconds, 1e-9);
    r.train_loss = loss_sum / static_cast<double>(std::max<std::size_t>(train.size, 1));
    std::tie(r.auc, r.log_loss) = evaluate(model, table, test, opts.eval_batch);
    r.memory = table.memory_bytes();
    return r;
}

// ---------------------------------------------------------------------------------------------
// A grid of runs.

/// One cell of a grid: a method at a compression ratio.
struct grid_job {
    std::string method;  ///< method name
    double ratio = 1;    ///< compression asked for (ignored by fixed-ratio methods)
};

/// The jobs of `methods × ratios`; a fixed-ratio method (full, fp16, int8) runs once, at its
/// own ratio. Unknown methods throw `std::invalid_argument`.
inline std::vector<grid_job> make_jobs(const std::vector<std::string>& methods,
                                       const std::vector<double>& ratios, std::size_t dim) {
    std::vector<grid_job> jobs;
    for (const std::string& m : methods) {
        if (find_method(m).fixed_ratio) {
            jobs.push_back({m, storage_ratio(m, dim)});
            continue;
        }
        for (double r : ratios) jobs.push_back({m, r});
    }
    return jobs;
}

/// Everything the runs of a grid share.
struct experiment {
    const dataset* train = nullptr;     ///< training samples (one epoch)
    const dataset* test = nullptr;      ///< test samples
    std::vector<std::uint64_t> field_sizes;  ///< ids of each field
    dlrm_options model;                 ///< the model (its seed is the run's seed)
    train_options training;             ///< batch and MLP rate
    float table_lr = 5.0f;              ///< SGD rate of the tables
    /// A run that diverges is retried this many times, each at a fifth of the previous table
    /// rate (tables of very few rows sum the gradients of thousands of lookups a step).
    int diverged_retries = 1;
};

/// Runs every job (`threads` at a time; each run is one thread), calling `done(result)` as
/// each finishes (under a lock, so it may print or append to a file). Results come back in job
/// order; a method that cannot reach its ratio gives a result with `error` set.
inline std::vector<run_result> run_grid(const std::vector<grid_job>& jobs, const experiment& ex,
                                        unsigned threads, progress* report,
                                        const std::function<void(const run_result&)>& done = {}) {
    std::vector<run_result> results(jobs.size());
    std::vector<std::uint32_t> counts;
    std::once_flag counted;
    table_request base;
    base.field_sizes = ex.field_sizes;
    base.dim = ex.model.dim;
    base.lr = ex.table_lr;
    base.seed = ex.model.seed;
    const std::uint64_t n = base.ids();
    base.counts = [&]() -> const std::vector<std::uint32_t>& {
        std::call_once(counted, [&] { counts = count_ids(*ex.train, n); });
        return counts;
    };
    std::vector<std::uint32_t> sample;
    std::once_flag sampled;
    base.sample_counts = [&]() -> const std::vector<std::uint32_t>& {
        std::call_once(sampled, [&] { sample = count_ids(*ex.train, n, ex.train->size / 20); });
        return sample;
    };
    std::atomic<std::size_t> next{0};
    std::mutex done_mutex;
    std::exception_ptr failure;
    const auto worker = [&] {
        for (std::size_t j; (j = next++) < jobs.size();) {
            run_result& r = results[j];
            r.method = jobs[j].method;
            r.ratio = jobs[j].ratio;
            try {
                table_request req = base;
                req.ratio = find_method(r.method).fixed_ratio ? 1.0 : r.ratio;
                for (int attempt = 0;; ++attempt) {
                    try {
                        embtab::any_table table = [&] {
                            try {
                                return make_table(r.method, req);
                            } catch (const embtab::bad_parameter& e) {
                                r.error = e.what();
                                throw;
                            }
                        }();
                        dlrm model(ex.model);
                        const std::string method = r.method;
                        const double ratio = r.ratio;
                        r = train_and_evaluate(model, table, *ex.train, *ex.test, ex.training,
                                               report);
                        r.method = method;
                        r.ratio = ratio;
                        r.table_lr = req.lr;
                        r.achieved = req.full_bytes() /
                                     static_cast<double>(std::max<std::size_t>(r.memory.total(), 1));
                        break;
                    } catch (const std::exception& e) {
                        const bool diverged =
                            dynamic_cast<const training_diverged*>(&e) != nullptr ||
                            dynamic_cast<const embtab::nonfinite_gradient*>(&e) != nullptr;
                        if (!diverged || attempt >= ex.diverged_retries) throw;
                        req.lr /= 5;
                        if (report) report->add_total(ex.train->size);
                    }
                }
                if (report) report->run_done();
            } catch (const training_diverged& e) {
                r.error = e.what();
                if (report) report->run_done(ex.train->size);
            } catch (const embtab::nonfinite_gradient& e) {
                r.error = std::string("training diverged: ") + e.what();
                if (report) report->run_done(ex.train->size);
            } catch (const embtab::bad_parameter&) {
                if (r.error.empty()) {  // thrown by training, not by the planner: a real failure
                    std::lock_guard<std::mutex> lock(done_mutex);
                    if (!failure) failure = std::current_exception();
                }
                if (report) report->run_done(ex.train->size);
            } catch (...) {
                std::lock_guard<std::mutex> lock(done_mutex);
                if (!failure) failure = std::current_exception();
                if (report) report->run_done(ex.train->size);
                r.error = "failed";
            }
            if (done) {
                std::lock_guard<std::mutex> lock(done_mutex);
                done(r);
            }
        }
    };
    threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(jobs.size())));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (std::thread& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
    return results;
}

// ---------------------------------------------------------------------------------------------
// Reports.

/// Bytes with a binary suffix: "512 B", "3.20 MiB".
inline std::string format_bytes(double bytes) {
    const char* suffix[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) bytes /= 1024, ++i;
    char buf[32];
    std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.2f %s", bytes, suffix[i]);
    return buf;
}

/// The compression ratio as written in reports: "1000x", "3.2x".
inline std::string format_ratio(double r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, r >= 9.95 ? "%.0fx" : "%.1fx", r);
    return buf;
}

/// The results as an aligned text table; `optimum_auc` / `optimum_log_loss` (the hidden
/// model's, synthetic data) are shown when not NaN.
/// A run whose `table_lr` is below `table_lr` (retried after diverging) is marked with `*`.
inline void print_results(std::ostream& os, const std::vector<run_result>& results,
                          double optimum_auc = std::numeric_limits<double>::quiet_NaN(),
                          double optimum_log_loss = std::numeric_limits<double>::quiet_NaN(),
                          float table_lr = 0) {
    bool retried = false;
    os << std::left << std::setw(12) << "method" << std::right << std::setw(8) << "ratio"
       << std::setw(12) << "bytes" << std::setw(9) << "AUC" << std::setw(10) << "log-loss"
       << std::setw(12) << "samples/s" << "\n";
    os << std::string(63, '-') << "\n";
    for (const run_result& r : results) {
        os << std::left << std::setw(12) << r.method << std::right << std::setw(8)
           << format_ratio(r.ok() ? r.achieved : r.ratio);
        if (!r.ok()) {
            const char* why = r.diverged() ? "diverged" : "n/a";
            os << std::setw(12) << "n/a" << std::setw(9) << why << std::setw(10) << "n/a"
               << std::setw(12) << "n/a" << "\n";
            continue;
        }
        const bool slower = r.table_lr < table_lr;
        retried = retried || slower;
        os << std::setw(12) << format_bytes(static_cast<double>(r.memory.total())) << std::fixed
           << std::setprecision(4) << std::setw(9) << r.auc << std::setw(10) << r.log_loss
           << std::setw(12) << progress::si(r.samples_per_second) << (slower ? " *" : "") << "\n";
        os.unsetf(std::ios::floatfield);
    }
    if (!std::isnan(optimum_auc)) {
        os << std::left << std::setw(12) << "(optimum)" << std::right << std::setw(20) << ""
           << std::fixed << std::setprecision(4) << std::setw(9) << optimum_auc << std::setw(10)
           << optimum_log_loss << "   hidden model's own probabilities\n";
        os.unsetf(std::ios::floatfield);
    }
    if (retried)
        os << "* diverged at table lr " << table_lr << "; retrained at a fifth of it\n";
}

/// The CSV header matching `csv_row` (with a leading `scenario` column).
inline std::string csv_header() {
    return "scenario,method,ratio,achieved_ratio,bytes,parameter_bytes,optimizer_bytes,"
           "other_bytes,auc,log_loss,train_loss,samples_per_s,train_seconds,note,table_lr";
}

/// One result as a CSV line (no newline); `note` is the reason of an n/a cell.
inline std::string csv_row(const std::string& scenario, const run_result& r) {
    std::ostringstream os;
    os << std::setprecision(8) << scenario << "," << r.method << "," << r.ratio << ",";
    if (r.ok())
        os << r.achieved << "," << r.memory.total() << "," << r.memory.parameters << ","
           << r.memory.optimizer_state << "," << r.memory.other << "," << r.auc << ","
           << r.log_loss << "," << r.train_loss << "," << r.samples_per_second << ","
           << r.train_seconds << ",";
    else
        os << ",,,,,,,,,,";
    std::string note = r.error;
    for (char& c : note)
        if (c == ',' || c == '\n' || c == '"') c = ';';
    os << note << ",";
    if (r.ok()) os << r.table_lr;
    return os.str();
}

/// `s` as a JSON string literal.
inline std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else out += c;
    }
    return out + "\"";
}

/// `x` as a JSON number (`null` when not finite).
inline std::string json_number(double x) {
    if (!std::isfinite(x)) return "null";
    std::ostringstream os;
    os << std::setprecision(10) << x;
    return os.str();
}

/// One result as a JSON object.
inline std::string json_object(const run_result& r) {
    std::ostringstream os;
    os << "{\"method\": " << json_string(r.method) << ", \"ratio\": " << json_number(r.ratio);
    if (r.ok())
        os << ", \"achieved_ratio\": " << json_number(r.achieved)
           << ", \"bytes\": " << r.memory.total() << ", \"parameter_bytes\": " << r.memory.parameters
           << ", \"optimizer_bytes\": " << r.memory.optimizer_state
           << ", \"other_bytes\": " << r.memory.other << ", \"auc\": " << json_number(r.auc)
           << ", \"log_loss\": " << json_number(r.log_loss)
           << ", \"train_loss\": " << json_number(r.train_loss)
           << ", \"samples_per_s\": " << json_number(r.samples_per_second)
           << ", \"train_seconds\": " << json_number(r.train_seconds)
           << ", \"table_lr\": " << json_number(r.table_lr);
    else
        os << ", \"error\": " << json_string(r.error);
    os << "}";
    return os.str();
}

}  // namespace embtab_dlrm
