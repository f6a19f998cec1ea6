#pragma once
/// \file detail/access_check.hpp The threading rule of tables — any number of lookups at once,
/// or one update alone — checked at run time when `EMBTAB_CHECK_ACCESS` is defined (in every
/// translation unit of a program, or in none: it changes the tables' layout). Without it the
/// guards are empty and cost nothing.

#include <atomic>
#include <stdexcept>

namespace embtab::detail {

/// Counts the lookups running on one table (> 0) or marks its update (-1); a lookup that meets
/// an update, or an update that meets anything, throws `std::logic_error`. One atomic
/// compare-and-swap and one atomic store or decrement per batch call.
class access_check {
public:
    access_check() = default;
    /// A copy is a new table: it starts idle.
    access_check(const access_check&) noexcept {}
    /// Assigning does not change who is using this table.
    access_check& operator=(const access_check&) noexcept { return *this; }

#if defined(EMBTAB_CHECK_ACCESS)
    /// Held by a lookup for its duration.
    class reading {
    public:
        /// Counts a lookup in, or throws when the table is being updated.
        explicit reading(const access_check& c) : n_(c.n_) {
            int v = n_.load(std::memory_order_relaxed);
            do {
                if (v < 0)
                    throw std::logic_error("embtab: a lookup ran while the same table was being "
                                           "updated (an update needs the table to itself)");
            } while (!n_.compare_exchange_weak(v, v + 1, std::memory_order_acquire));
        }
        ~reading() { n_.fetch_sub(1, std::memory_order_release); }
        reading(const reading&) = delete;
        reading& operator=(const reading&) = delete;

    private:
        std::atomic<int>& n_;
    };
    /// Held by an update for its duration.
    class writing {
    public:
        /// Marks the update, or throws when the table is in use.
        explicit writing(const access_check& c) : n_(c.n_) {
            int idle = 0;
            if (!n_.compare_exchange_strong(idle, -1, std::memory_order_acquire))
                throw std::logic_error(
                    idle < 0 ? "embtab: two updates of the same table ran at once"
                             : "embtab: an update ran while the same table was being looked up "
                               "(an update needs the table to itself)");
        }
        ~writing() { n_.store(0, std::memory_order_release); }
        writing(const writing&) = delete;
        writing& operator=(const writing&) = delete;

    private:
        std::atomic<int>& n_;
    };

private:
    mutable std::atomic<int> n_{0};
#else
    /// Held by a lookup (no check in this build).
    struct reading {
        explicit reading(const access_check&) noexcept {}
    };
    /// Held by an update (no check in this build).
    struct writing {
        explicit writing(const access_check&) noexcept {}
    };
#endif
};

}  // namespace embtab::detail
