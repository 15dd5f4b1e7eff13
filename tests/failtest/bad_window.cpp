// Must not compile: a window of -5 is neither positive, -1 (full) nor dynamic.
#include <samba/samba.hpp>

int main() {
  constexpr samba::AttentionShape bad{64, 4, 4, 16, -5};
  samba::SwaLayer<bad> layer({64, 4, 4, 16, 16, 10000.0, 1.0}, -5);
  return static_cast<int>(layer.n_head());
}
