#pragma once
/// \file examples/dlrm/mlp.hpp Fully connected layers with ReLU over row-major batch matrices
/// (one sample a row): forward, backward, plain SGD step; weights drawn from a seed.

#include <Eigen/Core>
#include <embtab/detail/rng.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace embtab_dlrm {

/// A row-major float matrix: a batch of samples, one a row.
using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// A float row vector (biases, bias gradients).
using row_vector = Eigen::Matrix<float, 1, Eigen::Dynamic>;

/// Uniform and normal draws from embtab's seeded SplitMix64: the model's initialisation, fixed
/// by a seed on every platform (no `std::normal_distribution`, whose output the standard leaves
/// open).
class init_rng {
public:
    /// A generator whose sequence is fixed by `seed`.
    explicit init_rng(std::uint64_t seed) noexcept : gen_(seed) {}
    /// Uniform in [0, 1).
    double uniform() noexcept { return gen_.uniform(); }
    /// Standard normal (Box–Muller, one value a call).
    double normal() noexcept {
        const double u = 1.0 - uniform();  // (0, 1]
        const double v = uniform();
        return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
    }

private:
    embtab::detail::rng gen_;
};

/// One fully connected layer `y = x·W + b`, optionally followed by ReLU, with its gradients.
struct dense_layer {
    matrix weight;           ///< `in × out`
    row_vector bias;         ///< `1 × out`
    bool relu = true;        ///< ReLU after the affine map
    matrix weight_grad;      ///< ∂loss/∂weight of the last `backward`
    row_vector bias_grad;    ///< ∂loss/∂bias of the last `backward`
};

/// A stack of dense layers `sizes[0] → sizes[1] → … → sizes.back()`, ReLU after every layer
/// except (unless `relu_last`) the last. ReLU layers start He-normal (`N(0, 2/in)`), a linear
/// last layer Xavier-uniform (`±sqrt(6/(in+out))`), biases at 0. `forward` keeps the
/// activations that `backward` needs, so calls alternate forward, backward (, `sgd_step`).
class mlp {
public:
    /// Layers of the given sizes (at least two entries, all positive), drawn from `seed`.
    mlp(const std::vector<std::size_t>& sizes, bool relu_last, std::uint64_t seed) {
        if (sizes.size() < 2)
            throw std::invalid_argument("mlp: needs at least 2 sizes (input and output); got " +
                                        std::to_string(sizes.size()));
        for (std::size_t i = 0; i < sizes.size(); ++i)
            if (sizes[i] == 0)
                throw std::invalid_argument("mlp: size " + std::to_string(i) + " is 0");
        init_rng rng(seed);
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            dense_layer layer;
            const std::size_t in = sizes[l], out = sizes[l + 1];
            layer.relu = relu_last || l + 2 < sizes.size();
            layer.weight.resize(static_cast<Eigen::Index>(in), static_cast<Eigen::Index>(out));
            const double he = std::sqrt(2.0 / static_cast<double>(in));
            const double xavier = std::sqrt(6.0 / static_cast<double>(in + out));
            for (Eigen::Index i = 0; i < layer.weight.size(); ++i)
                layer.weight.data()[i] = static_cast<float>(
                    layer.relu ? he * rng.normal() : xavier * (2 * rng.uniform() - 1));
            layer.bias = row_vector::Zero(static_cast<Eigen::Index>(out));
            layer.weight_grad = matrix::Zero(layer.weight.rows(), layer.weight.cols());
            layer.bias_grad = row_vector::Zero(layer.bias.cols());
            layers_.push_back(std::move(layer));
        }
        activations_.resize(layers_.size() + 1);
    }

    /// Width of the input.
    std::size_t input_size() const noexcept {
        return static_cast<std::size_t>(layers_.front().weight.rows());
    }
    /// Width of the output.
    std::size_t output_size() const noexcept {
        return static_cast<std::size_t>(layers_.back().weight.cols());
    }
    /// The layers (weights may be read and changed, e.g. by a gradient check).
    std::vector<dense_layer>& layers() noexcept { return layers_; }
    /// The layers.
    const std::vector<dense_layer>& layers() const noexcept { return layers_; }
    /// Number of weights and biases.
    std::size_t parameter_count() const noexcept {
        std::size_t n = 0;
        for (const dense_layer& l : layers_)
            n += static_cast<std::size_t>(l.weight.size() + l.bias.size());
        return n;
    }

    /// The output for a batch `x` (`batch × input_size()`); valid until the next call. Keeps
    /// the activations for `backward`.
    const matrix& forward(const matrix& x) {
        check_cols("forward input", x.cols(), input_size());
        activations_[0] = x;
        for (std::size_t l = 0; l < layers_.size(); ++l) {
            const dense_layer& layer = layers_[l];
            matrix& y = activations_[l + 1];
            y.noalias() = activations_[l] * layer.weight;
            y.rowwise() += layer.bias;
            if (layer.relu) {
                float* v = y.data();
                for (Eigen::Index i = 0, size = y.size(); i < size; ++i) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
            }
        }
        return activations_.back();
    }

    /// Gradients of the weights and biases (into each layer's `*_grad`) from ∂loss/∂output of
    /// the last `forward`'s batch; with `grad_input`, also ∂loss/∂input (`batch × input_size()`).
    void backward(const matrix& grad_output, matrix* grad_input = nullptr) {
        check_cols("backward gradient", grad_output.cols(), output_size());
        if (grad_output.rows() != activations_[0].rows())
            throw std::invalid_argument("mlp::backward: gradient has " +
                                        std::to_string(grad_output.rows()) +
                                        " rows; the last forward batch had " +
                                        std::to_string(activations_[0].rows()));
        delta_ = grad_output;
        for (std::size_t l = layers_.size(); l-- > 0;) {
            dense_layer& layer = layers_[l];
            if (layer.relu)  // ReLU passes the gradient where its output was positive
                delta_ = (activations_[l + 1].array() > 0.0f).select(delta_, 0.0f);
            layer.weight_grad.noalias() = activations_[l].transpose() * delta_;
            layer.bias_grad = delta_.colwise().sum();
            if (l > 0 || grad_input) {
                previous_.noalias() = delta_ * layer.weight.transpose();
                std::swap(delta_, previous_);
            }
        }
        if (grad_input) *grad_input = delta_;
    }

    /// `w -= lr · ∂loss/∂w` for every weight and bias, with the gradients of the last `backward`.
    void sgd_step(float lr) {
        for (dense_layer& layer : layers_) {
            layer.weight.noalias() -= lr * layer.weight_grad;
            layer.bias.noalias() -= lr * layer.bias_grad;
        }
    }

private:
    static void check_cols(const char* what, Eigen::Index cols, std::size_t expected) {
        if (static_cast<std::size_t>(cols) != expected)
            throw std::invalid_argument(std::string("mlp: ") + what + " has " +
                                        std::to_string(cols) + " columns; expected " +
                                        std::to_string(expected));
    }

    std::vector<dense_layer> layers_;
    std::vector<matrix> activations_;  // [0] = input, [l + 1] = output of layer l
    matrix delta_, previous_;          // backward's running gradient
};

}  // namespace embtab_dlrm
