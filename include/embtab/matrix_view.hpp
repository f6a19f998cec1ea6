#pragma once
/// \file matrix_view.hpp Row-major matrices owned by the caller: a pointer with a row stride,
/// built from raw memory or from any Eigen row-major dense object.

#include <Eigen/Core>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "errors.hpp"

namespace embtab {

/// The Eigen matrix type the tables read and write: float, row-major, dynamic size.
using row_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// `rows × cols` values of type `T` (float or const float), row `i` at `data + i·stride`.
template <class T>
class matrix_view {
public:
    /// A view of caller memory; `stride` is the distance between rows, in elements.
    matrix_view(T* data, std::size_t rows, std::size_t cols, std::size_t stride)
        : data_(data), rows_(rows), cols_(cols), stride_(stride) {
        if (stride < cols)
            detail::fail<shape_mismatch>("matrix stride ", stride, " is smaller than its ", cols,
                                         " columns");
    }
    /// A view of densely packed caller memory.
    matrix_view(T* data, std::size_t rows, std::size_t cols)
        : matrix_view(data, rows, cols, cols) {}
    /// A view of an Eigen row-major matrix, map, block or ref (or a column vector) whose
    /// coefficients are in memory (not an unevaluated expression).
    template <class Derived,
              class = std::enable_if_t<
                  std::is_base_of_v<Eigen::DenseBase<std::decay_t<Derived>>, std::decay_t<Derived>> &&
                  (Eigen::internal::traits<std::decay_t<Derived>>::Flags & Eigen::DirectAccessBit)>>
    matrix_view(Derived&& m)  // NOLINT(google-explicit-constructor)
        : matrix_view(m.data(), static_cast<std::size_t>(m.rows()),
                      static_cast<std::size_t>(m.cols()),
                      static_cast<std::size_t>(m.cols() == 1 && m.rows() > 0 && !m.IsRowMajor
                                                   ? m.innerStride()
                                                   : m.outerStride())) {
        using D = std::decay_t<Derived>;
        static_assert(D::IsRowMajor || D::ColsAtCompileTime == 1,
                      "embtab: an Eigen matrix passed to a table must be row-major");
        if (m.cols() > 1 && m.innerStride() != 1)
            detail::fail<shape_mismatch>("matrix inner stride ", m.innerStride(),
                                         " must be 1");
    }

    /// Number of rows.
    std::size_t rows() const noexcept { return rows_; }
    /// Number of columns.
    std::size_t cols() const noexcept { return cols_; }
    /// Distance between rows, in elements.
    std::size_t stride() const noexcept { return stride_; }
    /// Pointer to the first element of row `i` (unchecked).
    T* row(std::size_t i) const noexcept { return data_ + i * stride_; }

private:
    T* data_;
    std::size_t rows_, cols_, stride_;
};

}  // namespace embtab
