// ODR check, part B: see odr_a.cpp.
#include "embtab_all_headers.hpp"

int odr_b() { return 42; }
