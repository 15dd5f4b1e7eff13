// Must not compile: 6 query heads cannot share 4 KV heads (static_assert in SwaLayer).
#include <samba/samba.hpp>

int main() {
  constexpr samba::AttentionShape bad{64, 6, 4, 16, 8};
  samba::SwaLayer<bad> layer({64, 6, 4, 16, 16, 10000.0, 1.0}, 8);
  return static_cast<int>(layer.n_head());
}
