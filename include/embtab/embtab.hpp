#pragma once
/// \file embtab.hpp Umbrella header: everything embtab offers.

#include "errors.hpp"
#include "fwd.hpp"
#include "matrix_view.hpp"
#include "memory.hpp"
#include "optim/adagrad.hpp"
#include "optim/adam.hpp"
#include "optim/rowwise_adagrad.hpp"
#include "optim/sgd.hpp"
#include "options.hpp"
#include "span.hpp"
#include "storage/f32.hpp"
#include "storage/half.hpp"
#include "storage/rounding.hpp"
#include "tables/full_table.hpp"
#include "traits.hpp"
#include "version.hpp"
