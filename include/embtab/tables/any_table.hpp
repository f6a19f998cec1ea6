#pragma once
/// \file tables/any_table.hpp A table whose kind is chosen at run time: one virtual call per
/// batch, for command-line tools, benchmarks over methods, and models that pick a method from a
/// configuration.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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

/// Holds any table (by value) behind the shared interface; ids are 32- or 64-bit integers,
/// signed or unsigned, and offsets any integers.
class any_table {
  public:
    /// Takes ownership of `table`, whose kind is described by `name` (for reports).
    template <class Table,
              class = std::enable_if_t<is_table_v<std::decay_t<Table>> &&
                                       !std::is_same_v<std::decay_t<Table>, any_table>>>
    explicit any_table(Table&& table, std::string name = {})
        : impl_(std::make_unique<model<std::decay_t<Table>>>(std::forward<Table>(table))),
          name_(std::move(name)) {}

    /// Output width.
    std::size_t dim() const { return held().dim(); }
    /// Bytes of the held table.
    memory_usage memory_bytes() const { return held().memory_bytes(); }
    /// The name given at construction.
    const std::string& name() const noexcept { return name_; }
    /// What `update` does with non-finite gradients.
    void set_nonfinite_policy(nonfinite_policy p) { held().set_nonfinite_policy(p); }

    /// The held table's checkpoint signature: its checkpoints are the held table's own.
    std::string signature() const { return held().signature(); }
    /// Writes the held table's shape.
    void save_shape(io::writer& w) const { held().save_shape(w); }
    /// Reads a shape written by `save_shape`; throws `bad_checkpoint` unless it is the held
    /// table's.
    void verify_shape(io::reader& r) const { held().verify_shape(r); }
    /// Writes the held table's state.
    void save_state(io::writer& w) const { held().save_state(w); }
    /// Reads the held table's state all-or-nothing (into a copy, checked to end with the
    /// payload, then moved in).
    void load_state(io::reader& r) { held().load_state(r); }

    /// See `table_base::lookup`.
    template <class Ids>
    void lookup(const Ids& ids, matrix_view<float> out) const {
        held().lookup(view(as_span(ids)), out, nullptr);
    }
    /// See `table_base::lookup`; the batch is cut across `threads`.
    template <class Ids>
    void lookup(const Ids& ids, matrix_view<float> out, thread_pool& threads) const {
        held().lookup(view(as_span(ids)), out, &threads);
    }
    /// See `table_base::lookup_pooled`.
    template <class Ids, class Offsets>
    void lookup_pooled(const Ids& ids, const Offsets& offsets, matrix_view<float> out,
                       const pool_options& opts = {}) const {
        offsets64 off(as_span(offsets));
        held().lookup_pooled(view(as_span(ids)), off.get(), out, opts, nullptr);
    }
    /// See `table_base::lookup_pooled`; the bags are cut across `threads`.
    template <class Ids, class Offsets>
    void lookup_pooled(const Ids& ids, const Offsets& offsets, matrix_view<float> out,
                       const pool_options& opts, thread_pool& threads) const {
        offsets64 off(as_span(offsets));
        held().lookup_pooled(view(as_span(ids)), off.get(), out, opts, &threads);
    }
    /// See `table_base::update`.
    template <class Ids>
    void update(const Ids& ids, matrix_view<const float> grads) {
        held().update(view(as_span(ids)), grads, nullptr);
    }
    /// See `table_base::update`; the distinct rows are stepped across `threads`.
    template <class Ids>
    void update(const Ids& ids, matrix_view<const float> grads, thread_pool& threads) {
        held().update(view(as_span(ids)), grads, &threads);
    }
    /// See `table_base::update_pooled`.
    template <class Ids, class Offsets>
    void update_pooled(const Ids& ids, const Offsets& offsets, matrix_view<const float> bag_grads,
                       const pool_options& opts = {}) {
        offsets64 off(as_span(offsets));
        held().update_pooled(view(as_span(ids)), off.get(), bag_grads, opts, nullptr);
    }
    /// See `table_base::update_pooled`; the distinct rows are stepped across `threads`.
    template <class Ids, class Offsets>
    void update_pooled(const Ids& ids, const Offsets& offsets, matrix_view<const float> bag_grads,
                       const pool_options& opts, thread_pool& threads) {
        offsets64 off(as_span(offsets));
        held().update_pooled(view(as_span(ids)), off.get(), bag_grads, opts, &threads);
    }

  private:
    /// Ids cross the virtual boundary as a typed view: 32- or 64-bit, signed or unsigned.
    enum class id_type { i32, u32, i64, u64 };
    struct ids_view {
        const void* data;
        std::size_t size;
        id_type type;
    };
    using ids64 = span<const std::int64_t>;
    template <class T>
    static ids_view view(span<const T> s) {
        static_assert(
            std::is_integral_v<T> && !std::is_same_v<T, bool> && (sizeof(T) == 4 || sizeof(T) == 8),
            "embtab::any_table takes ids of 32- or 64-bit integers");
        constexpr id_type type = sizeof(T) == 4
                                     ? (std::is_signed_v<T> ? id_type::i32 : id_type::u32)
                                     : (std::is_signed_v<T> ? id_type::i64 : id_type::u64);
        return {s.data(), s.size(), type};
    }
    /// Calls `f` with `v` as the span it is.
    template <class F>
    static void visit(ids_view v, F&& f) {
        switch (v.type) {
            case id_type::i32:
                return f(
                    span<const std::int32_t>(static_cast<const std::int32_t*>(v.data), v.size));
            case id_type::u32:
                return f(
                    span<const std::uint32_t>(static_cast<const std::uint32_t*>(v.data), v.size));
            case id_type::i64:
                return f(
                    span<const std::int64_t>(static_cast<const std::int64_t*>(v.data), v.size));
            case id_type::u64:
                return f(
                    span<const std::uint64_t>(static_cast<const std::uint64_t*>(v.data), v.size));
        }
    }
    /// Offsets as 64-bit signed values: 64-bit ones as they are (an unsigned offset above
    /// 2^63 reads as negative, which the table refuses), narrower ones copied.
    class offsets64 {
      public:
        template <class T>
        explicit offsets64(span<const T> s) {
            static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>,
                          "embtab::any_table takes offsets of integers");
            if constexpr (sizeof(T) == 8) {
                view_ = ids64(reinterpret_cast<const std::int64_t*>(s.data()), s.size());
            } else {
                copy_.assign(s.begin(), s.end());
                view_ = ids64(copy_.data(), copy_.size());
            }
        }
        ids64 get() const noexcept { return view_; }

      private:
        std::vector<std::int64_t> copy_;
        ids64 view_;
    };

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
        // lookups and updates take a pool, or nullptr for the calling thread alone
        virtual void lookup(ids_view, matrix_view<float>, thread_pool*) const = 0;
        virtual void lookup_pooled(ids_view, ids64, matrix_view<float>, const pool_options&,
                                   thread_pool*) const = 0;
        virtual void update(ids_view, matrix_view<const float>, thread_pool*) = 0;
        virtual void update_pooled(ids_view, ids64, matrix_view<const float>, const pool_options&,
                                   thread_pool*) = 0;
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
            if constexpr (checkpointable)
                return t.signature();
            else
                detail::fail<bad_checkpoint>("this table kind has no checkpoint support");
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
        void lookup(ids_view v, matrix_view<float> o, thread_pool* pool) const override {
            visit(v, [&](auto ids) {
                if (pool)
                    t.lookup(ids, o, *pool);
                else
                    t.lookup(ids, o);
            });
        }
        void lookup_pooled(ids_view v, ids64 f, matrix_view<float> o, const pool_options& p,
                           thread_pool* threads) const override {
            visit(v, [&](auto ids) {
                if (threads)
                    t.lookup_pooled(ids, f, o, p, *threads);
                else
                    t.lookup_pooled(ids, f, o, p);
            });
        }
        void update(ids_view v, matrix_view<const float> g, thread_pool* pool) override {
            visit(v, [&](auto ids) {
                if (pool)
                    t.update(ids, g, *pool);
                else
                    t.update(ids, g);
            });
        }
        void update_pooled(ids_view v, ids64 f, matrix_view<const float> g, const pool_options& p,
                           thread_pool* pool) override {
            visit(v, [&](auto ids) {
                if (pool)
                    t.update_pooled(ids, f, g, p, *pool);
                else
                    t.update_pooled(ids, f, g, p);
            });
        }
    };

    /// The held table; a moved-from `any_table` holds none and says so.
    concept_t& held() const {
        if (!impl_) throw std::logic_error("embtab: any_table: used after it was moved from");
        return *impl_;
    }

    std::unique_ptr<concept_t> impl_;
    std::string name_;
};

}  // namespace embtab
