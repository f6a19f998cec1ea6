// The consumer app shared by every tests/consumers project (and the pkg-config check):
// embtab's umbrella header must be reachable, with its dependencies, through the consumer's
// usual way of getting embtab.
#include <embtab/embtab.hpp>

int main() { return embtab::version_major == 0 ? 0 : 1; }
