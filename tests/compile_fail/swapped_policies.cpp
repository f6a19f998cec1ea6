// expect: Storage must be a storage policy
// The optimizer given where the storage belongs must not compile.
#include <embtab/embtab.hpp>

int main() {
    embtab::full_table<embtab::sgd, embtab::f32> t(10, 4);
    return static_cast<int>(t.dim());
}
