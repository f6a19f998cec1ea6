// expect: ids must be an integer type
// Floating-point ids are a mistake the compiler must catch.
#include <embtab/embtab.hpp>

#include <vector>

int main() {
    embtab::full_table<> t(10, 4);
    std::vector<float> ids = {1.0f};
    embtab::row_matrix out(1, 4);
    t.lookup(ids, out);
}
