#pragma once
/// \file detail/flat_id_map.hpp An open-addressing hash map from 64-bit ids to small integers
/// (row numbers): linear probing over a power-of-two array of keys, load at most 3/4, deletion
/// by backward shift (no tombstones); lookups never allocate.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../io/byte_io.hpp"

namespace embtab::detail {

/// Map from `std::uint64_t` keys (every value allowed) to `Value`.
template <class Value = std::uint32_t>
class flat_id_map {
public:
    /// What `find` returns for a missing key.
    static constexpr Value npos = std::numeric_limits<Value>::max();

    /// An empty map with room for `expected` keys before it grows.
    explicit flat_id_map(std::size_t expected = 0) { reserve(expected); }

    /// Number of keys.
    std::size_t size() const noexcept { return size_; }
    /// True when there are no keys.
    bool empty() const noexcept { return size_ == 0; }
    /// Slots in the array (a power of two, or 0).
    std::size_t capacity() const noexcept { return keys_.size(); }

    /// Slots a map holding `n` keys uses (after `reserve(n)`).
    static std::size_t capacity_for(std::size_t n) noexcept {
        if (n == 0) return 0;
        std::size_t c = 8;
        while (c - c / 4 < n) c *= 2;  // load ≤ 3/4
        return c;
    }
    /// Bytes of a map reserved for `n` keys: its key and value arrays.
    static std::size_t bytes_for(std::size_t n) noexcept {
        return capacity_for(n) * (sizeof(std::uint64_t) + sizeof(Value));
    }
    /// Bytes of the key and value arrays.
    std::size_t memory_bytes() const noexcept {
        return keys_.size() * (sizeof(std::uint64_t) + sizeof(Value));
    }

    /// Grows the array so that `n` keys fit without rehashing.
    void reserve(std::size_t n) {
        const std::size_t c = capacity_for(n);
        if (c > keys_.size()) rehash(c);
    }

    /// The value of `key`, or `npos`.
    Value find(std::uint64_t key) const noexcept {
        if (key == empty_key) return has_empty_key_ ? empty_key_value_ : npos;
        if (keys_.empty()) return npos;
        for (std::size_t s = slot(key);; s = (s + 1) & mask_) {
            if (keys_[s] == key) return values_[s];
            if (keys_[s] == empty_key) return npos;
        }
    }
    /// True when `key` is present.
    bool contains(std::uint64_t key) const noexcept { return find(key) != npos; }
    /// The address of the slot `find(key)` starts at (for prefetching).
    const void* probe_address(std::uint64_t key) const noexcept {
        return keys_.empty() ? nullptr : static_cast<const void*>(&keys_[slot(key)]);
    }

    /// Sets the value of `key`; true when the key was new.
    bool insert_or_assign(std::uint64_t key, Value value) {
        if (key == empty_key) {
            const bool fresh = !has_empty_key_;
            has_empty_key_ = true;
            empty_key_value_ = value;
            size_ += fresh;
            return fresh;
        }
        if (keys_.empty() || stored() + 1 > keys_.size() - keys_.size() / 4)
            rehash(keys_.empty() ? 8 : keys_.size() * 2);
        std::size_t s = slot(key);
        for (; keys_[s] != empty_key; s = (s + 1) & mask_)
            if (keys_[s] == key) {
                values_[s] = value;
                return false;
            }
        keys_[s] = key;
        values_[s] = value;
        ++size_;
        return true;
    }

    /// The value of `key`; when it is missing, inserts it with `value` first (one probe).
    Value find_or_insert(std::uint64_t key, Value value) {
        if (key == empty_key) {
            if (!has_empty_key_) insert_or_assign(key, value);
            return empty_key_value_;
        }
        if (keys_.empty() || stored() + 1 > keys_.size() - keys_.size() / 4)
            rehash(keys_.empty() ? 8 : keys_.size() * 2);
        std::size_t s = slot(key);
        for (; keys_[s] != empty_key; s = (s + 1) & mask_)
            if (keys_[s] == key) return values_[s];
        keys_[s] = key;
        values_[s] = value;
        ++size_;
        return value;
    }

    /// Removes `key`; true when it was present.
    bool erase(std::uint64_t key) noexcept {
        if (key == empty_key) {
            const bool had = has_empty_key_;
            has_empty_key_ = false;
            size_ -= had;
            return had;
        }
        if (keys_.empty()) return false;
        std::size_t s = slot(key);
        for (; keys_[s] != key; s = (s + 1) & mask_)
            if (keys_[s] == empty_key) return false;
        // backward-shift deletion: pull later entries of the probe run into the hole
        std::size_t hole = s;
        for (std::size_t t = (hole + 1) & mask_; keys_[t] != empty_key; t = (t + 1) & mask_) {
            const std::size_t home = slot(keys_[t]);
            // move t into the hole unless its home lies cyclically in (hole, t]
            const bool stays = hole <= t ? (hole < home && home <= t) : (hole < home || home <= t);
            if (stays) continue;
            keys_[hole] = keys_[t];
            values_[hole] = values_[t];
            hole = t;
        }
        keys_[hole] = empty_key;
        --size_;
        return true;
    }

    /// Removes every key (keeps the array).
    void clear() noexcept {
        for (auto& k : keys_) k = empty_key;
        has_empty_key_ = false;
        size_ = 0;
    }

    /// Calls `f(key, value)` for every entry (in no particular order).
    template <class F>
    void for_each(F&& f) const {
        if (has_empty_key_) f(empty_key, empty_key_value_);
        for (std::size_t s = 0; s < keys_.size(); ++s)
            if (keys_[s] != empty_key) f(keys_[s], values_[s]);
    }

    /// Writes the entries to a checkpoint sorted by key, so that equal maps give equal bytes
    /// whatever order their keys were inserted in.
    void save_state(io::writer& w) const {
        std::vector<std::pair<std::uint64_t, Value>> entries;
        entries.reserve(size_);
        for_each([&](std::uint64_t k, Value v) { entries.emplace_back(k, v); });
        std::sort(entries.begin(), entries.end());
        w.u64(entries.size());
        for (const auto& [k, v] : entries) {
            w.u64(k);
            w.value(v);
        }
    }
    /// Replaces the entries with those `save_state` wrote: at most `max_keys`, keys strictly
    /// increasing, each passed to `check(key, value, offset)`, which throws to reject it. The
    /// map is unchanged when anything throws.
    template <class Check>
    void load_state(io::reader& r, std::size_t max_keys, Check&& check) {
        const std::size_t at = r.offset();
        const std::uint64_t n = r.u64("map size");
        if (n > max_keys) r.fail_at(at, "map holds ", n, " keys; at most ", max_keys, " fit");
        r.require_items(n, sizeof(std::uint64_t) + sizeof(Value), "map entries");
        flat_id_map m(static_cast<std::size_t>(n));
        std::uint64_t last = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::size_t entry_at = r.offset();
            const std::uint64_t key = r.u64("map key");
            const auto value = r.value<Value>("map value");
            if (i > 0 && key <= last)
                r.fail_at(entry_at, "map key ", key, " does not follow ", last,
                          " (keys must increase)");
            check(key, value, entry_at);
            m.insert_or_assign(key, value);
            last = key;
        }
        *this = std::move(m);
    }

private:
    static constexpr std::uint64_t empty_key = std::numeric_limits<std::uint64_t>::max();

    std::size_t stored() const noexcept { return size_ - (has_empty_key_ ? 1 : 0); }
    std::size_t slot(std::uint64_t key) const noexcept {
        std::uint64_t z = key ^ (key >> 31);
        z *= 0x9e3779b97f4a7c15ULL;  // Fibonacci hashing: the top bits are well mixed
        return static_cast<std::size_t>(z >> shift_);
    }
    void rehash(std::size_t capacity) {
        std::vector<std::uint64_t> old_keys(capacity, empty_key);
        std::vector<Value> old_values(capacity);
        old_keys.swap(keys_);
        old_values.swap(values_);
        mask_ = capacity - 1;
        shift_ = 64;
        for (std::size_t c = capacity; c > 1; c /= 2) --shift_;
        for (std::size_t s = 0; s < old_keys.size(); ++s) {
            if (old_keys[s] == empty_key) continue;
            std::size_t t = slot(old_keys[s]);
            while (keys_[t] != empty_key) t = (t + 1) & mask_;
            keys_[t] = old_keys[s];
            values_[t] = old_values[s];
        }
    }

    std::vector<std::uint64_t> keys_;
    std::vector<Value> values_;
    std::size_t mask_ = 0;
    unsigned shift_ = 64;
    std::size_t size_ = 0;
    bool has_empty_key_ = false;
    Value empty_key_value_{};
};

}  // namespace embtab::detail
