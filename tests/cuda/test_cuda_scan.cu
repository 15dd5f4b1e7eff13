// tests/cuda/test_cuda_scan.cu: the CUDA selective scan against the scalar reference, for full
// sequences, sequences split across calls (state carried), long sequences (the chunked parallel
// scan) and single decode steps, at state sizes that use each kernel instantiation, and the scan
// that projects dt_low through dt_proj itself (float32 and bf16 weights). Exits 77 (skipped) where
// there is no GPU.
#include <cmath>
#include <cstdio>
#include <random>
#include <samba/backend/cuda/device_buffer.hpp>
#include <samba/ops/cuda/selective_scan.cuh>
#include <samba/ops/activations.hpp>
#include <samba/ops/selective_scan.hpp>
#include <vector>

#include "cuda_test_support.hpp"

using namespace samba;

namespace {

std::vector<float> random_vector(std::size_t n, std::uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / (den > 0 ? den : 1.0));
}

int failures = 0;
void expect_close(const char* what, const std::vector<float>& got, const std::vector<float>& want, double tol) {
  const double err = rel_l2(got, want);
  std::printf("%-48s rel L2 %.3g %s\n", what, err, err < tol ? "ok" : "FAIL");
  if (!(err < tol)) ++failures;
}

/// Runs T tokens as chunks of the given sizes on the GPU (state carried) and all at once on the
/// CPU reference; compares y and the final state.
void check_case(index_t T, index_t E, index_t N, std::vector<index_t> chunks) {
  const index_t stride = N * 2 + 3;  // B and C are views into x_proj's wider rows
  const auto x = random_vector(T * E, 1, -1, 1), dt = random_vector(T * E, 2, 0.001f, 0.5f);
  const auto a = random_vector(N * E, 3, -4, -0.1f), bc = random_vector(T * stride, 4, -1, 1);
  const auto d = random_vector(E, 5, -1, 1), z = random_vector(T * E, 6, -3, 3);
  auto h_ref = random_vector(N * E, 7, -0.5f, 0.5f);
  std::vector<float> y_ref(T * E);
  ops::selective_scan(backend::Scalar{}, x.data(), dt.data(), a.data(), bc.data() + 1, bc.data() + 1 + N, stride, d.data(),
                      z.data(), h_ref.data(), y_ref.data(), T, E, N);

  const backend::Cuda gpu;
  cuda::DeviceBuffer<float> gx{std::span<const float>(x)}, gdt{std::span<const float>(dt)}, ga{std::span<const float>(a)},
      gbc{std::span<const float>(bc)}, gd{std::span<const float>(d)}, gz{std::span<const float>(z)},
      gh{std::span<const float>(random_vector(N * E, 7, -0.5f, 0.5f))}, gy(T * E);
  index_t t0 = 0;
  for (index_t n : chunks) {
    ops::selective_scan(gpu, gx.data() + t0 * E, gdt.data() + t0 * E, ga.data(), gbc.data() + t0 * stride + 1,
                        gbc.data() + t0 * stride + 1 + N, stride, gd.data(), gz.data() + t0 * E, gh.data(), gy.data() + t0 * E, n, E, N);
    t0 += n;
  }
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<float> y(T * E), h(N * E);
  gy.download(y), gh.download(h);
  char what[128];
  std::snprintf(what, sizeof what, "T %lld E %lld N %lld in %zu chunk(s): y", (long long)T, (long long)E, (long long)N, chunks.size());
  expect_close(what, y, y_ref, 1e-5);
  std::snprintf(what, sizeof what, "T %lld E %lld N %lld in %zu chunk(s): state", (long long)T, (long long)E, (long long)N, chunks.size());
  expect_close(what, h, h_ref, 1e-5);
}

/// The scan given dt_low [T, R] (rows of stride R + 3) and dt_proj [E, R] of type W instead of dt:
/// against the reference scan of dt = softplus(round_W(dt_low) . dt_proj[e] + bias), on `sequences`
/// sequences of T tokens each (one block row per sequence).
template <class W>
void check_projected_dt(index_t T, index_t E, index_t N, index_t R, int sequences) {
  const index_t stride = N * 2 + 3, low_stride = R + 3, rows = T * sequences;
  const bool half = std::is_same_v<W, bf16>;
  const auto round = [&](float v) { return half ? bf16_to_f32(f32_to_bf16(v)) : v; };
  const auto x = random_vector(rows * E, 11, -1, 1), low = random_vector(rows * low_stride, 12, -1, 1);
  auto proj = random_vector(E * R, 13, -0.3f, 0.3f);
  for (auto& v : proj) v = round(v);
  const auto bias = random_vector(E, 14, -3, -1), a = random_vector(N * E, 15, -4, -0.1f), bc = random_vector(rows * stride, 16, -1, 1);
  const auto d = random_vector(E, 17, -1, 1), z = random_vector(rows * E, 18, -3, 3), h0 = random_vector(N * E, 19, -0.5f, 0.5f);
  std::vector<float> dt(rows * E), y_ref(rows * E), h_ref;
  for (index_t t = 0; t < rows; ++t)
    for (index_t e = 0; e < E; ++e) {
      double acc = 0;
      for (index_t r = 0; r < R; ++r) acc += double(round(low[t * low_stride + r])) * proj[e * R + r];
      dt[t * E + e] = ops::softplus(static_cast<float>(acc) + bias[e]);
    }
  for (int p = 0; p < sequences; ++p) {
    std::vector<float> h = h0;
    const index_t o = p * T;
    ops::selective_scan(backend::Scalar{}, x.data() + o * E, dt.data() + o * E, a.data(), bc.data() + o * stride + 1,
                        bc.data() + o * stride + 1 + N, stride, d.data(), z.data() + o * E, h.data(), y_ref.data() + o * E, T, E, N);
    h_ref.insert(h_ref.end(), h.begin(), h.end());
  }

  const backend::Cuda gpu;
  std::vector<W> proj_w;
  for (float v : proj) {
    if constexpr (std::is_same_v<W, bf16>) proj_w.push_back(bf16{f32_to_bf16(v)});
    else proj_w.push_back(v);
  }
  cuda::DeviceBuffer<float> gx{std::span<const float>(x)}, glow{std::span<const float>(low)}, gbias{std::span<const float>(bias)},
      ga{std::span<const float>(a)}, gbc{std::span<const float>(bc)}, gd{std::span<const float>(d)}, gz{std::span<const float>(z)},
      gy(rows * E);
  cuda::DeviceBuffer<W> gproj{std::span<const W>(proj_w)};
  std::vector<cuda::DeviceBuffer<float>> gh;
  ops::cuda_kernels::SegmentTable seg;
  ops::cuda_kernels::StatePointers states;
  seg.count = sequences;
  for (int p = 0; p < sequences; ++p) {
    gh.emplace_back(std::span<const float>(h0));
    seg.row0[p] = static_cast<int>(p * T), seg.rows[p] = static_cast<int>(T), seg.first[p] = 0;
    states.at[p] = gh.back().data();
  }
  ops::cuda_kernels::ScanInputs in{gx.data(), nullptr, gbias.data(), ga.data(), gbc.data() + 1, gbc.data() + 1 + N, stride, gd.data(), gz.data(), E};
  in.dt_low = glow.data(), in.dt_low_stride = low_stride, in.dt_proj = gproj.data(), in.dt_rank = static_cast<int>(R);
  ops::selective_scan<float, W>(gpu, in, seg, states, gy.data(), E, N, nullptr);
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<float> y(rows * E), h, part(N * E);
  gy.download(y);
  for (auto& b : gh) b.download(part), h.insert(h.end(), part.begin(), part.end());
  char what[128];
  std::snprintf(what, sizeof what, "dt projected (%s, R %lld), %d x %lld rows: y", half ? "bf16" : "f32", (long long)R, sequences, (long long)T);
  expect_close(what, y, y_ref, 1e-5);
  std::snprintf(what, sizeof what, "dt projected (%s, R %lld), %d x %lld rows: state", half ? "bf16" : "f32", (long long)R, sequences,
                (long long)T);
  expect_close(what, h, h_ref, 1e-5);
}

}  // namespace

int main() {
  return test::run_cuda_checks(
      [] {
        check_case(200, 300, 16, {200});            // several token chunks, channels not a multiple of the block
        check_case(200, 300, 16, {1, 63, 70, 66});  // chunked prefill, state carried between calls
        check_case(5, 257, 16, {1, 1, 1, 1, 1});    // decode steps
        check_case(90, 64, 8, {90});
        check_case(90, 64, 5, {40, 50});
        check_case(33, 96, 40, {33});               // the generic instantiation
        check_case(1000, 300, 16, {1000});          // the chunked parallel scan, a partial last chunk
        check_case(1300, 200, 16, {300, 1000});     // chunked scans continuing a state
        check_case(600, 96, 40, {600});             // chunked, generic instantiation
        check_projected_dt<float>(1, 300, 16, 144, 3);  // decode steps of three sequences, 16-byte weight rows
        check_projected_dt<bf16>(1, 300, 16, 144, 4);
        check_projected_dt<bf16>(70, 200, 16, 37, 1);   // unaligned rows, more tokens than a stage
        check_projected_dt<float>(3, 129, 40, 160, 2);  // the largest rank, the generic instantiation
        bool too_long = false;
        try {
          ops::cuda_kernels::ScanInputs in{};
          in.dt_proj = &too_long, in.dt_rank = 161;
          ops::cuda_kernels::SegmentTable seg;
          seg.count = 1, seg.row0[0] = 0, seg.rows[0] = 1, seg.first[0] = 0;
          ops::selective_scan<float, float>(backend::Cuda{}, in, seg, {}, static_cast<float*>(nullptr), 8, 16, nullptr);
        } catch (const Error&) {
          too_long = true;
        }
        std::printf("%-48s %s\n", "dt_rank 161 inside the scan is refused", too_long ? "ok" : "FAIL");
        failures += too_long ? 0 : 1;
        bool refused = false;
        try {
          ops::selective_scan(backend::Cuda{}, nullptr, nullptr, nullptr, nullptr, nullptr, 0, nullptr, nullptr, nullptr, nullptr, 1, 1, 65);
        } catch (const Error&) {
          refused = true;
        }
        std::printf("%-48s %s\n", "d_state 65 is refused", refused ? "ok" : "FAIL");
        failures += refused ? 0 : 1;
      },
      [] { return failures; });
}
