// tests/test_numerics.cpp: the kernels whose arithmetic can overflow stay finite and correct at
// extreme activations, on both CPU backends: softplus of huge and tiny dt, the selective scan with
// huge steps (exp(dt*A) underflows to 0) and with state values near float's limit, and attention
// with scores of order 1e6 (the softmax must subtract the maximum).
#include <catch2/catch.hpp>
#include <cmath>
#include <samba/samba.hpp>
#include <samba/simd.hpp>
#include <vector>

#include "test_support.hpp"

using namespace samba;

namespace {

bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

template <class Backend>
void check_softplus(const Backend& be) {
  const std::vector<float> raw{-1e30f, -1e4f, -100.0f, -20.0f, 0.0f, 20.0f, 88.0f, 100.0f, 1e4f, 1e30f};
  std::vector<float> dt = raw;
  const std::vector<float> bias(raw.size(), 0.0f);
  softplus_bias(be, dt.data(), bias.data(), 1, static_cast<index_t>(raw.size()));
  CHECK(all_finite(dt));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    INFO("softplus(" << raw[i] << ") = " << dt[i]);
    CHECK(dt[i] >= 0.0f);
    if (raw[i] >= 20.0f) CHECK(dt[i] == Approx(raw[i]));               // the linear branch
    if (raw[i] <= -100.0f) CHECK(dt[i] < 1e-30f);                       // vanishes, no NaN
    if (raw[i] == 0.0f) CHECK(dt[i] == Approx(std::log(2.0f)));
  }
}

template <class Backend>
void check_scan(const Backend& be) {
  const index_t T = 6, E = 8, N = 4;
  // Steps from tiny to huge; A from -1e-3 to -1e3: exp(dt*A) spans 1 down to an underflow to 0.
  const std::vector<float> dt{1e-6f, 1e4f, 1e8f, 1e-3f, 1e30f, 1.0f};
  std::vector<float> x(T * E), dts(T * E), a(N * E), bc(T * 2 * N), d(E, 1.0f), z(T * E, 30.0f), h(N * E, 1e30f), y(T * E);
  for (index_t t = 0; t < T; ++t)
    for (index_t e = 0; e < E; ++e) x[t * E + e] = (e % 2 ? -1.0f : 1.0f) * 1e-3f, dts[t * E + e] = dt[t];
  for (index_t k = 0; k < N; ++k)
    for (index_t e = 0; e < E; ++e) a[k * E + e] = -std::pow(10.0f, static_cast<float>(k) - 1.0f - static_cast<float>(e % 3));
  for (auto& v : bc) v = 0.5f;
  // The recurrence in double (SPEC.md "Mamba": h = exp(dt A) h + dt B x, y = (C.h + D x) silu(z)).
  std::vector<double> h_want(h.begin(), h.end()), y_want(y.size());
  for (index_t t = 0; t < T; ++t)
    for (index_t e = 0; e < E; ++e) {
      const double step = dts[t * E + e], xv = x[t * E + e], zv = z[t * E + e];
      double acc = 0.0;
      for (index_t k = 0; k < N; ++k) {
        double& hv = h_want[k * E + e];
        hv = std::exp(step * a[k * E + e]) * hv + step * bc[t * 2 * N + k] * xv;
        acc += hv * bc[t * 2 * N + N + k];
      }
      y_want[t * E + e] = (acc + d[e] * xv) * zv / (1.0 + std::exp(-zv));
    }
  selective_scan(be, x.data(), dts.data(), a.data(), bc.data(), bc.data() + N, 2 * N, d.data(), z.data(), h.data(), y.data(), T, E, N);
  CHECK(all_finite(h));
  CHECK(all_finite(y));
  const auto close = [](float got, double want) { return std::abs(got - want) <= 1e-5 * std::abs(want); };
  for (std::size_t i = 0; i < h.size(); ++i) {
    INFO("h[" << i << "] = " << h[i] << ", want " << h_want[i]);
    CHECK(close(h[i], h_want[i]));
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    INFO("y[" << i << "] = " << y[i] << ", want " << y_want[i]);
    CHECK(close(y[i], y_want[i]));
  }
}

template <class Backend>
void check_attention(const Backend& be) {
  const index_t H = 2, G = 1, hs = 16, T = 8;
  // Queries and keys of magnitude 1e3: scores of order 1e6 * 16 / 4. Key 5 aligns with every query.
  std::vector<float> q(T * H * hs, 1000.0f), k(T * G * hs, -1000.0f), v(T * G * hs), y(T * H * hs);
  for (index_t i = 0; i < hs; ++i) k[5 * hs + i] = 1000.0f;
  for (index_t t = 0; t < T; ++t)
    for (index_t i = 0; i < hs; ++i) v[t * hs + i] = static_cast<float>(t);
  const KvCache cache(-1, G, hs);
  attention(be, q.data(), k.data(), v.data(), cache, 0, y.data(), T, ops::AttentionShape{H, G, hs, -1});
  CHECK(all_finite(y));
  // Rows that see key 5 put all their weight on it; earlier rows average keys of equal score.
  for (index_t t = 5; t < T; ++t) CHECK(y[(t * H) * hs] == Approx(5.0f));
  CHECK(y[(4 * H) * hs] == Approx(2.0f));  // keys 0..4 all score the same
}

}  // namespace

TEST_CASE("softplus is finite and exact at extreme dt", "[numerics]") {
  check_softplus(backend::Scalar{});
  check_softplus(backend::Simd(1));
}

TEST_CASE("the selective scan stays finite and exact for huge steps and huge states", "[numerics]") {
  check_scan(backend::Scalar{});
  check_scan(backend::Simd(1));
}

TEST_CASE("attention stays finite and exact with scores of order 1e6", "[numerics]") {
  check_attention(backend::Scalar{});
  check_attention(backend::Simd(1));
}
