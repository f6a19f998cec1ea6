// ODR check, part A: every embtab header, included here and in odr_b.cpp; linking both
// translation units fails if a header defines a non-inline function or variable.
#include "embtab_all_headers.hpp"

int odr_b();

int main() { return odr_b() == 42 ? 0 : 1; }
