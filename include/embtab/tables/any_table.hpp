#pragma once
/// \file tables/any_table.hpp A table whose kind is chosen at run time: one virtual call per
/// batch, for command-line tools, benchmarks over methods, and models that pick a method from a
/// configuration.

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "../errors.hpp"
#include "../io/byte_io.hpp"
#include "../io/checkpoint.hpp"
#include "../matrix_view.hpp"
#include "../memory.hpp"
#include "../options.hpp"
#include "../span.hpp"
#include "../threads.hpp"
#include "../traits.hpp"

namespace embtab {

/// Holds any table (by value) behind the shared interface; ids are 64- or 32-bit integers.
class any_table {
public:
    /// Takes ownership of `table`, whose kind is described by `name` (for reports).
    template <class Table, class = std::enable_if_t<is_table_v<std::decay_t<Table>> &&
                                                    !std::is_same_v<std::decay_t<Table>, any_table>>>
    explicit any_table(Table&& table, std::string name = {})
        : impl_(std::make_unique<model<std::decay_t<Table>>>(std::forward<Table>(table))),
          name_(std::move(name)) {}

    /// Output width.
    std::size_t dim() const { return impl_->dim(); }
    /// Bytes of the held table.
    memory_usage memory_bytes() const { return impl_->memory_bytes(); }
    /// The name given at construction.
    const std::string& name() const noexcept { return name_; }
    /// What `update` does with non-finite gradients.
    void set_nonfinite_policy(nonfinite_policy p) { impl_->set_nonfinite_policy(p); }

    /// The held table's checkpoint signature: its checkpoints are the held table's own.
    std::string signature() const { return impl_->signature(); }
    /// Writes the held table's shape.
    void save_shape(io::writer& w) const { impl_->save_shape(w); }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is the held
    /// table's.
    void verify_shape(io::reader& r) const { impl_->verify_shape(r); }
    /// Writes the held table's state.
    void save_state(io::writer& w) const { impl_->save_state(w); }
    /// Reads the held table's state all-or-nothing (into a copy, checked to end with the
    /// payload, then moved in).
    void load_state(io::reader& r) { impl_->load_state(r); }

    /// See `table_base::lookup`.
    template <class Ids>
    void lookup(const Ids& ids, matrix_view<float> out) const {
        impl_->lookup(widen(as_span(ids)), out, nullptr);
    }
    /// See `table_base::lookup`; the batch is cut across `threads`.
    template <class Ids>
    void lookup(const Ids& ids, matrix_view<float> out, thread_pool& threads) const {
        impl_->lookup(widen(as_span(ids)), out, &threads);
    }
    /// See `table_base::lookup_pooled`.
    template <class Ids, class Offsets>
    void lookup_pooled(const Ids& ids, const Offsets& offsets, matrix_view<float> out,
                       const pool_options& opts = {}) const {
        impl_->lookup_pooled(widen(as_span(ids)), widen(as_span(offsets)), out, opts, nullptr);
    }
    /// See `table_base::lookup_pooled`; the bags are cut across `threads`.
    template <class Ids, class Offsets>
    void lookup_pooled(const Ids& ids, const Offsets& offsets, matrix_view<float> out,
                       const pool_options& opts, thread_pool& threads) const {
        impl_->lookup_pooled(widen(as_span(ids)), widen(as_span(offsets)), out, opts, &threads);
    }
    /// See `table_base::update`.
    template <class Ids>
    void update(const Ids& ids, matrix_view<const float> grads) {
        impl_->update(widen(as_span(ids)), grads);
    }
    /// See `table_base::update_pooled`.
    template <class Ids, class Offsets>
    void update_pooled(const Ids& ids, const Offsets& offsets, matrix_view<const float> bag_grads,
                       const pool_options& opts = {}) {
        impl_->update_pooled(widen(as_span(ids)), widen(as_span(offsets)), bag_grads, opts);
    }

private:
    /// Ids and offsets cross the virtual boundary as one of two span types.
    using ids64 = span<const std::int64_t>;
    using ids32 = span<const std::int32_t>;
    template <class T>
    static auto widen(span<const T> s) {
        static_assert(std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::int32_t> ||
                          std::is_same_v<T, long long>,
                      "embtab::any_table takes ids and offsets of std::int64_t or std::int32_t");
        if constexpr (std::is_same_v<T, std::int32_t>)
            return s;
        else
            return ids64(reinterpret_cast<const std::int64_t*>(s.data()), s.size());
    }

    struct concept_t {
        virtual ~concept_t() = default;
        virtual std::size_t dim() const = 0;
        virtual memory_usage memory_bytes() const = 0;
        virtual void set_nonfinite_policy(nonfinite_policy) = 0;
        virtual std::string signature() const = 0;
        virtual void save_shape(io::writer&) const = 0;
        virtual void verify_shape(io::reader&) const = 0;
        virtual void save_state(io::writer&) const = 0;
        virtual void load_state(io::reader&) = 0;
        // lookups take a pool, or nullptr for the calling thread alone
        virtual void lookup(ids64, matrix_view<float>, thread_pool*) const = 0;
        virtual void lookup(ids32, matrix_view<float>, thread_pool*) const = 0;
        virtual void lookup_pooled(ids64, ids64, matrix_view<float>, const pool_options&,
                                   thread_pool*) const = 0;
        virtual void lookup_pooled(ids32, ids32, matrix_view<float>, const pool_options&,
                                   thread_pool*) const = 0;
        virtual void update(ids64, matrix_view<const float>) = 0;
        virtual void update(ids32, matrix_view<const float>) = 0;
        virtual void update_pooled(ids64, ids64, matrix_view<const float>, const pool_options&) = 0;
        virtual void update_pooled(ids32, ids32, matrix_view<const float>, const pool_options&) = 0;
    };
    template <class Table>
    struct model final : concept_t {
        Table t;
        explicit model(Table&& x) : t(std::move(x)) {}
        explicit model(const Table& x) : t(x) {}
        std::size_t dim() const override { return t.dim(); }
        memory_usage memory_bytes() const override { return t.memory_bytes(); }
        void set_nonfinite_policy(nonfinite_policy p) override { t.set_nonfinite_policy(p); }
        // checkpoints: forwarded, or refused for a table kind without the hooks
        static constexpr bool checkpointable = io::is_checkpointable<Table>::value;
        std::string signature() const override {
            if constexpr (checkpointable) return t.signature();
            else detail::fail<bad_checkpoint>("this table kind has no checkpoint support");
        }
        void save_shape(io::writer& w) const override {
            if constexpr (checkpointable) t.save_shape(w);
        }
        void verify_shape(io::reader& r) const override {
            if constexpr (checkpointable) t.verify_shape(r);
        }
        void save_state(io::writer& w) const override {
            if constexpr (checkpointable) t.save_state(w);
        }
        void load_state(io::reader& r) override {
            if constexpr (checkpointable) io::load_payload(t, r);
        }
        template <class Ids>
        void look(Ids i, matrix_view<float> o, thread_pool* pool) const {
            if (pool) t.lookup(i, o, *pool);
            else t.lookup(i, o);
        }
        template <class Ids>
        void pool(Ids i, Ids f, matrix_view<float> o, const pool_options& p,
                  thread_pool* threads) const {
            if (threads) t.lookup_pooled(i, f, o, p, *threads);
            else t.lookup_pooled(i, f, o, p);
        }
        void lookup(ids64 i, matrix_view<float> o, thread_pool* p) const override { look(i, o, p); }
        void lookup(ids32 i, matrix_view<float> o, thread_pool* p) const override { look(i, o, p); }
        void lookup_pooled(ids64 i, ids64 f, matrix_view<float> o, const pool_options& p,
                           thread_pool* threads) const override {
            pool(i, f, o, p, threads);
        }
        void lookup_pooled(ids32 i, ids32 f, matrix_view<float> o, const pool_options& p,
                           thread_pool* threads) const override {
            pool(i, f, o, p, threads);
        }
        void update(ids64 i, matrix_view<const float> g) override { t.update(i, g); }
        void update(ids32 i, matrix_view<const float> g) override { t.update(i, g); }
        void update_pooled(ids64 i, ids64 f, matrix_view<const float> g,
                           const pool_options& p) override {
            t.update_pooled(i, f, g, p);
        }
        void update_pooled(ids32 i, ids32 f, matrix_view<const float> g,
                           const pool_options& p) override {
            t.update_pooled(i, f, g, p);
        }
    };

    std::unique_ptr<concept_t> impl_;
    std::string name_;
};

}  // namespace embtab
