// tests/test_layers.cpp: each layer against a direct formula written independently of the ops
// (closed-form scan, full masked attention matrix, complex-number RoPE), and prefill against
// step-by-step and chunked runs for every stateful layer.
#include <catch2/catch.hpp>
#include <complex>
#include <map>
#include <samba/samba.hpp>

#include "test_support.hpp"

using namespace samba;
using Params = std::map<std::string, std::vector<float>>;

namespace {

/// Fills every parameter of `layer` with N(0, scale^2) values and returns a copy by name.
template <class Layer>
Params randomize_layer(Layer& layer, std::uint64_t seed, float scale = 0.3f) {
  Params p;
  layer.for_each_parameter([&](std::string_view name, const Shape& shape, auto& w, ParamRole) {
    auto values = test::random_vector(static_cast<std::size_t>(element_count(shape)), seed++, scale);
    if constexpr (std::is_same_v<std::remove_reference_t<decltype(w)>, std::vector<float>>) w = values;
    else assign_from_float(w, values);
    p[std::string(name)] = values;
  });
  return p;
}

float silu(double v) { return static_cast<float>(v / (1.0 + std::exp(-v))); }

MambaDims small_mamba() { return {12, 24, 5, 4, 3, true}; }

/// Mamba by the closed form h_t = sum_{s<=t} exp(A * sum_{r=s+1..t} dt_r) dt_s B_s x_s.
std::vector<float> mamba_direct(const Params& p, const MambaDims& m, const std::vector<float>& u, index_t T) {
  const index_t D = m.d_model, E = m.d_inner, N = m.d_state, K = m.d_conv, R = m.dt_rank;
  auto at = [&](const char* n) -> const std::vector<float>& { return p.at(n); };
  std::vector<double> x(T * E), z(T * E), xc(T * E), dt(T * E), B(T * N), C(T * N);
  for (index_t t = 0; t < T; ++t)
    for (index_t e = 0; e < 2 * E; ++e) {
      double s = 0;
      for (index_t i = 0; i < D; ++i) s += double(at("in_proj.weight")[e * D + i]) * u[t * D + i];
      (e < E ? x[t * E + e] : z[t * E + e - E]) = s;
    }
  for (index_t t = 0; t < T; ++t)
    for (index_t e = 0; e < E; ++e) {
      double s = at("conv1d.bias")[e];
      for (index_t k = 0; k < K; ++k) {
        const index_t src = t - (K - 1) + k;
        if (src >= 0) s += double(at("conv1d.weight")[e * K + k]) * x[src * E + e];
      }
      xc[t * E + e] = silu(s);
    }
  for (index_t t = 0; t < T; ++t) {
    std::vector<double> proj(R + 2 * N, 0.0);
    for (index_t o = 0; o < R + 2 * N; ++o)
      for (index_t e = 0; e < E; ++e) proj[o] += double(at("x_proj.weight")[o * E + e]) * xc[t * E + e];
    for (index_t n = 0; n < N; ++n) B[t * N + n] = proj[R + n], C[t * N + n] = proj[R + N + n];
    for (index_t e = 0; e < E; ++e) {
      double s = at("dt_proj.bias")[e];
      for (index_t r = 0; r < R; ++r) s += double(at("dt_proj.weight")[e * R + r]) * proj[r];
      dt[t * E + e] = s > 20 ? s : std::log1p(std::exp(s));
    }
  }
  std::vector<double> y(T * E);
  for (index_t t = 0; t < T; ++t)
    for (index_t e = 0; e < E; ++e) {
      double acc = 0;
      for (index_t n = 0; n < N; ++n) {
        const double a = -std::exp(double(at("A_log")[e * N + n]));
        double h = 0, decay_sum = 0;  // sum_{r=s+1..t} dt_r, grown as s goes down
        for (index_t s = t; s >= 0; --s) {
          h += std::exp(a * decay_sum) * dt[s * E + e] * B[s * N + n] * xc[s * E + e];
          decay_sum += dt[s * E + e];
        }
        acc += h * C[t * N + n];
      }
      y[t * E + e] = (acc + at("D")[e] * xc[t * E + e]) * silu(z[t * E + e]);
    }
  std::vector<float> out(T * D);
  for (index_t t = 0; t < T; ++t)
    for (index_t d = 0; d < D; ++d) {
      double s = 0;
      for (index_t e = 0; e < E; ++e) s += double(at("out_proj.weight")[d * E + e]) * y[t * E + e];
      out[t * D + d] = static_cast<float>(s);
    }
  return out;
}

/// Attention by the full [T, T] masked score matrix, RoPE as complex rotation of pairs (i, i + rd/2).
std::vector<float> attention_direct(const Params& p, const AttentionDims& a, index_t window, const std::vector<float>& x,
                                    index_t T) {
  const index_t D = a.d_model, H = a.n_head, G = a.n_kv_head, hs = a.head_size, qpk = H / G, rd = a.rope_dims;
  const auto& W = p.at("attn.weight");
  // Row of the fused projection for query head h / key or value of group g.
  auto q_row = [&](index_t h) { return (h / qpk) * (qpk + 2) * hs + (h % qpk) * hs; };
  auto k_row = [&](index_t g) { return g * (qpk + 2) * hs + qpk * hs; };
  auto v_row = [&](index_t g) { return g * (qpk + 2) * hs + (qpk + 1) * hs; };
  auto project = [&](index_t t, index_t row0) {
    std::vector<double> v(hs);
    for (index_t i = 0; i < hs; ++i)
      for (index_t d = 0; d < D; ++d) v[i] += double(W[(row0 + i) * D + d]) * x[t * D + d];
    return v;
  };
  auto rotate = [&](std::vector<double> v, index_t pos) {
    for (index_t i = 0; i < rd / 2; ++i) {
      const double angle = double(pos) * a.position_scale * std::pow(a.rope_base, -2.0 * double(i) / double(rd));
      const std::complex<double> r = std::complex<double>(v[i], v[i + rd / 2]) * std::polar(1.0, angle);
      v[i] = r.real(), v[i + rd / 2] = r.imag();
    }
    return v;
  };
  std::vector<double> y(T * H * hs, 0.0);
  for (index_t h = 0; h < H; ++h) {
    const index_t g = h / qpk;
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (index_t t = 0; t < T; ++t)
      q[t] = rotate(project(t, q_row(h)), t), k[t] = rotate(project(t, k_row(g)), t), v[t] = project(t, v_row(g));
    for (index_t t = 0; t < T; ++t) {
      std::vector<double> s(T, -INFINITY);
      double mx = -INFINITY;
      for (index_t j = 0; j < T; ++j) {
        const bool visible = j <= t && (window < 0 || t - j < window);
        if (!visible) continue;
        double dot = 0;
        for (index_t i = 0; i < hs; ++i) dot += q[t][i] * k[j][i];
        s[j] = dot / std::sqrt(double(hs));
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (index_t j = 0; j < T; ++j)
        for (index_t i = 0; i < hs; ++i) y[(t * H + h) * hs + i] += s[j] / sum * v[j][i];
    }
  }
  std::vector<float> out(T * D);
  const auto& P = p.at("proj.weight");
  for (index_t t = 0; t < T; ++t)
    for (index_t d = 0; d < D; ++d) {
      double s = 0;
      for (index_t i = 0; i < H * hs; ++i) s += double(P[d * H * hs + i]) * y[t * H * hs + i];
      out[t * D + d] = static_cast<float>(s);
    }
  return out;
}

/// Runs `layer` over x [T, D] in chunks of the given sizes (cycled) from a fresh state.
template <class Layer>
std::vector<float> run_chunked(const Layer& layer, const std::vector<float>& x, index_t T, index_t D,
                               std::vector<index_t> chunks) {
  auto state = layer.new_state();
  std::vector<float> out(x.size());
  for (index_t t = 0, c = 0; t < T; ++c) {
    const index_t n = std::min(chunks[c % chunks.size()], T - t);
    layer.forward(backend::Scalar{}, state, x.data() + t * D, out.data() + t * D, n);
    t += n;
  }
  return out;
}

}  // namespace

TEST_CASE("RMSNorm matches x / sqrt(mean(x^2) + eps) * w", "[layers]") {
  const index_t D = 37, T = 3;
  RMSNorm<> norm(D, 1e-5f);
  const Params p = randomize_layer(norm, 1);
  const auto x = test::random_vector(T * D, 2);
  std::vector<float> y(x.size()), want(x.size());
  norm.forward(backend::Scalar{}, x.data(), y.data(), T);
  for (index_t t = 0; t < T; ++t) {
    double ms = 0;
    for (index_t i = 0; i < D; ++i) ms += double(x[t * D + i]) * x[t * D + i] / D;
    for (index_t i = 0; i < D; ++i) want[t * D + i] = float(x[t * D + i] / std::sqrt(ms + 1e-5) * p.at("weight")[i]);
  }
  CHECK(test::rel_l2(y, want) < 1e-6);
}

TEST_CASE("SwiGLU matches w3(silu(w1 x) * (w2 x))", "[layers]") {
  const MlpDims dims{16, 40};
  SwiGLU<> mlp(dims);
  const Params p = randomize_layer(mlp, 3);
  const index_t T = 5, D = dims.d_model, I = dims.d_hidden;
  const auto x = test::random_vector(T * D, 4);
  std::vector<float> y(x.size()), want(x.size());
  mlp.forward(backend::Scalar{}, x.data(), y.data(), T);
  for (index_t t = 0; t < T; ++t) {
    std::vector<double> h(I);
    for (index_t i = 0; i < I; ++i) {
      double a = 0, b = 0;
      for (index_t d = 0; d < D; ++d)
        a += double(p.at("swiglu.w1.weight")[i * D + d]) * x[t * D + d], b += double(p.at("swiglu.w2.weight")[i * D + d]) * x[t * D + d];
      h[i] = silu(a) * b;
    }
    for (index_t d = 0; d < D; ++d) {
      double s = 0;
      for (index_t i = 0; i < I; ++i) s += double(p.at("swiglu.w3.weight")[d * I + i]) * h[i];
      want[t * D + d] = float(s);
    }
  }
  CHECK(test::rel_l2(y, want) < 1e-6);
}

TEST_CASE("MambaLayer matches the closed-form selective scan", "[layers]") {
  const MambaDims dims = small_mamba();
  MambaLayer<> layer(dims);
  Params p = randomize_layer(layer, 10);
  layer.prepare();
  const index_t T = 19, D = dims.d_model;
  const auto x = test::random_vector(T * D, 11);
  auto state = layer.new_state();
  std::vector<float> y(x.size());
  layer.forward(backend::Scalar{}, state, x.data(), y.data(), T);
  CHECK(test::rel_l2(y, mamba_direct(p, dims, x, T)) < 1e-5);
}

TEST_CASE("MambaLayer: prefill equals step-by-step and any chunking", "[layers]") {
  const MambaDims dims = small_mamba();
  MambaLayer<> layer(dims);
  randomize_layer(layer, 20);
  layer.prepare();
  const index_t T = 23, D = dims.d_model;
  const auto x = test::random_vector(T * D, 21);
  const auto whole = run_chunked(layer, x, T, D, {T});
  CHECK(test::rel_l2(run_chunked(layer, x, T, D, {1}), whole) < 1e-6);
  CHECK(test::rel_l2(run_chunked(layer, x, T, D, {2, 5, 1, 3}), whole) < 1e-6);
}

TEST_CASE("MambaLayer with a fixed compile-time shape rejects other run-time dims", "[layers]") {
  constexpr MambaShape fixed{12, 24, 5, 4, 3};
  CHECK_NOTHROW(MambaLayer<fixed>(small_mamba()));
  MambaDims other = small_mamba();
  other.d_state = 16;
  CHECK_THROWS_WITH(MambaLayer<fixed>(other), Catch::Contains("d_state is 16 at run time but the layer type was compiled for 5"));
}

TEST_CASE("SwaLayer matches full masked attention with complex-rotation RoPE", "[layers]") {
  struct Variant {
    index_t heads, groups, window, rope_dims;
    double scale;
  };
  for (const Variant v : {Variant{4, 2, 3, 8, 1.0}, Variant{4, 1, 1, 8, 1.0}, Variant{2, 2, -1, 0, 1.0},
                          Variant{6, 3, 5, 4, 0.5}, Variant{4, 4, 50, 8, 1.0}}) {
    DYNAMIC_SECTION("heads " << v.heads << " groups " << v.groups << " window " << v.window << " rope " << v.rope_dims) {
      AttentionDims dims{16, v.heads, v.groups, 8, v.rope_dims, 10000.0, v.scale};
      SwaLayer<> layer(dims, v.window);
      const Params p = randomize_layer(layer, 30);
      const index_t T = 17, D = dims.d_model;
      const auto x = test::random_vector(T * D, 31);
      const auto got = run_chunked(layer, x, T, D, {T});
      CHECK(test::rel_l2(got, attention_direct(p, dims, v.window, x, T)) < 1e-5);
    }
  }
}

TEST_CASE("SwaLayer: prefill equals step-by-step and chunks across the ring buffer", "[layers]") {
  for (const index_t window : {index_t{1}, index_t{4}, index_t{7}, index_t{-1}}) {
    DYNAMIC_SECTION("window " << window) {
      AttentionDims dims{16, 4, 2, 8, 8, 10000.0, 1.0};
      SwaLayer<> layer(dims, window);
      randomize_layer(layer, 40);
      const index_t T = 29, D = dims.d_model;
      const auto x = test::random_vector(T * D, 41);
      const auto whole = run_chunked(layer, x, T, D, {T});
      CHECK(test::rel_l2(run_chunked(layer, x, T, D, {1}), whole) < 1e-6);
      CHECK(test::rel_l2(run_chunked(layer, x, T, D, {3, 9, 1, 2}), whole) < 1e-6);
    }
  }
}

TEST_CASE("KvCache keeps exactly the last `window` positions", "[layers]") {
  KvCache cache(3, 2, 1);  // window 3, two KV heads of size 1; k [5, 2, 1]
  std::vector<float> k{0, 10, 1, 11, 2, 12, 3, 13, 4, 14}, v = k;
  cache.append(k.data(), v.data(), 5);
  CHECK(cache.end() == 5);
  for (index_t p = 2; p < 5; ++p) {
    CHECK(cache.key(p, 0)[0] == static_cast<float>(p));
    CHECK(cache.value(p, 1)[0] == static_cast<float>(10 + p));
  }
  const std::size_t before = cache.bytes();
  cache.append(k.data(), v.data(), 5);
  CHECK(cache.bytes() == before);  // constant memory
}

TEST_CASE("RoPE stays exact at positions far past 2^24", "[layers][stream]") {
  // Against angles formed in long double (64-bit mantissa) and reduced modulo 2 pi there: float32
  // angles would be off by whole radians at these positions.
  const index_t heads = 2, hs = 16, rd = 16;
  for (const index_t position : {index_t{1} << 24, (index_t{1} << 28) + 12345, (index_t{1} << 30) - 3}) {
    INFO("position " << position);
    auto x = test::random_vector(static_cast<std::size_t>(heads * hs), 21);
    const auto original = x;
    ops::rope(backend::Scalar{}, x.data(), 1, heads, hs, rd, position, 10000.0, 1.0);
    std::vector<float> want(x.size());
    const long double two_pi = 6.283185307179586476925286766559L;
    for (index_t h = 0; h < heads; ++h)
      for (index_t i = 0; i < rd / 2; ++i) {
        const long double theta = std::pow(10000.0L, -2.0L * static_cast<long double>(i) / static_cast<long double>(rd));
        const long double angle = std::fmod(static_cast<long double>(position) * theta, two_pi);
        const long double c = std::cos(angle), s = std::sin(angle);
        const long double x1 = original[h * hs + i], x2 = original[h * hs + i + rd / 2];
        want[h * hs + i] = static_cast<float>(x1 * c - x2 * s);
        want[h * hs + i + rd / 2] = static_cast<float>(x1 * s + x2 * c);
      }
    CHECK(test::rel_l2(x, want) < 1e-6);
  }
}
