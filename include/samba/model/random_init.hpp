// samba/model/random_init.hpp: seeded random weights with the official initialisation's character
// (for examples, benchmarks and tests that need no checkpoint).
#pragma once

#include <cmath>
#include <random>

#include "samba/core/dtype.hpp"
#include "samba/layers/parameter.hpp"
#include "samba/layers/weight_matrix.hpp"

namespace samba {

/// Fills every parameter of `model` from `seed`: matrices uniform(+-1/sqrt(fan_in)), embeddings
/// N(0, 0.02), norms 1, A_log = log(1..N), D = 1, dt bias = softplus^-1(dt) with dt log-uniform in
/// [1e-3, 1e-1] (mamba_ssm's dt_proj init), conv weights uniform(+-1/sqrt(K)), conv bias 0.
template <class ModelT>
void randomize(ModelT& model, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  model.for_each_parameter([&](std::string_view, const Shape& shape, auto& storage, ParamRole role) {
    const index_t fan_in = shape.back();
    std::vector<float> w(static_cast<std::size_t>(element_count(shape)));
    switch (role) {
      case ParamRole::matrix: {
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
        for (auto& v : w) v = bound * u(rng);
        break;
      }
      case ParamRole::embedding: {
        std::normal_distribution<float> n(0.0f, 0.02f);
        for (auto& v : w) v = n(rng);
        break;
      }
      case ParamRole::norm:
      case ParamRole::d_skip:
        std::fill(w.begin(), w.end(), 1.0f);
        break;
      case ParamRole::a_log:
        for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::log(static_cast<float>(i % static_cast<std::size_t>(fan_in) + 1));
        break;
      case ParamRole::dt_bias: {
        std::uniform_real_distribution<double> u(std::log(1e-3), std::log(1e-1));
        for (auto& v : w) {
          const double dt = std::exp(u(rng));
          v = static_cast<float>(dt + std::log(-std::expm1(-dt)));  // inverse softplus
        }
        break;
      }
      case ParamRole::conv_weight: {
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
        for (auto& v : w) v = bound * u(rng);
        break;
      }
      case ParamRole::conv_bias:
        std::fill(w.begin(), w.end(), 0.0f);
        break;
    }
    if constexpr (std::is_same_v<std::remove_reference_t<decltype(storage)>, std::vector<float>>) storage = w;
    else assign_from_float(storage, w);
  });
  model.prepare();
}

}  // namespace samba
