#pragma once
/// \file examples/data/auc.hpp Quality figures of a click model: exact ROC AUC and log-loss.
///
/// Labels are floats, positive when > 0.5 (the batch's 0/1 labels). Sizes that differ and empty
/// inputs throw `std::invalid_argument`; a NaN score throws too (it has no rank). The AUC of
/// inputs with a single class is undefined and returned as NaN.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace embtab_data {

namespace detail {

inline void check_sizes(const char* who, std::size_t scores, std::size_t labels) {
    if (scores != labels)
        throw std::invalid_argument(std::string(who) + ": " + std::to_string(scores) +
                                    " scores but " + std::to_string(labels) + " labels");
    if (scores == 0) throw std::invalid_argument(std::string(who) + ": no samples");
}

}  // namespace detail

/// Exact ROC AUC of `n` scores against labels: the probability that a random positive scores
/// above a random negative, ties counting ½ (Mann–Whitney with average ranks); O(n log n).
inline double roc_auc(const float* scores, const float* labels, std::size_t n) {
    detail::check_sizes("roc_auc", n, n);
    std::vector<std::pair<float, bool>> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(scores[i]))
            throw std::invalid_argument("roc_auc: score " + std::to_string(i) + " is NaN");
        v[i] = {scores[i], labels[i] > 0.5f};
    }
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    double positive_rank_sum = 0;  // 1-based ranks, ties given their average rank
    double positives = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        double group_positives = 0;
        while (j < n && v[j].first == v[i].first) group_positives += v[j++].second;
        const double average_rank = 0.5 * (static_cast<double>(i + 1) + static_cast<double>(j));
        positive_rank_sum += group_positives * average_rank;
        positives += group_positives;
        i = j;
    }
    const double negatives = static_cast<double>(n) - positives;
    if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
    return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

/// `roc_auc` of two equally long vectors.
inline double roc_auc(const std::vector<float>& scores, const std::vector<float>& labels) {
    detail::check_sizes("roc_auc", scores.size(), labels.size());
    return roc_auc(scores.data(), labels.data(), scores.size());
}

/// Mean binary cross-entropy of probabilities against labels, in nats; probabilities are clamped
/// to [1e-7, 1 − 1e-7] so that a confident mistake costs about 16, not infinity.
inline double log_loss(const float* probabilities, const float* labels, std::size_t n) {
    detail::check_sizes("log_loss", n, n);
    constexpr double eps = 1e-7;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double p = std::clamp(static_cast<double>(probabilities[i]), eps, 1 - eps);
        sum -= labels[i] > 0.5f ? std::log(p) : std::log1p(-p);
    }
    return sum / static_cast<double>(n);
}

/// `log_loss` of two equally long vectors.
inline double log_loss(const std::vector<float>& probabilities, const std::vector<float>& labels) {
    detail::check_sizes("log_loss", probabilities.size(), labels.size());
    return log_loss(probabilities.data(), labels.data(), probabilities.size());
}

/// Mean binary cross-entropy of logits (model outputs before the sigmoid) against labels,
/// computed stably as `softplus(z) − y·z`, with no clamping.
inline double log_loss_from_logits(const float* logits, const float* labels, std::size_t n) {
    detail::check_sizes("log_loss_from_logits", n, n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double z = logits[i];
        const double softplus = std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z)));
        sum += softplus - (labels[i] > 0.5f ? z : 0.0);
    }
    return sum / static_cast<double>(n);
}

/// `log_loss_from_logits` of two equally long vectors.
inline double log_loss_from_logits(const std::vector<float>& logits,
                                   const std::vector<float>& labels) {
    detail::check_sizes("log_loss_from_logits", logits.size(), labels.size());
    return log_loss_from_logits(logits.data(), labels.data(), logits.size());
}

}  // namespace embtab_data
