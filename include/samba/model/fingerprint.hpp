// samba/model/fingerprint.hpp: a 64-bit identity of a model, so that a saved sequence state is
// only ever continued by the model that produced it. It digests (FNV-1a 64) everything in the
// configuration that changes the arithmetic: architecture, every dimension, the sublayer kinds
// and windows, vocabulary sizes, norm eps, RoPE settings, head tying; and a sample of the
// weights: for every tensor (in for_each_parameter order) its shape and up to
// fingerprint_samples_per_tensor values spread evenly over it, as float32 bits. Sampling keeps it
// cheap for GB models; training or fine-tuning changes essentially every weight, so two models
// with equal configs and different weights get different fingerprints.
// Deliberately left out: names (model, tensors), the checkpoint format, the backend (states are
// portable between the scalar and SIMD kernels) and the storage type as such (bf16 weights held as
// float32 have the same values; int8 weights digest their dequantized values).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "samba/core/dtype.hpp"
#include "samba/io/fnv1a.hpp"
#include "samba/layers/parameter.hpp"
#include "samba/layers/weight_matrix.hpp"
#include "samba/model/config.hpp"

namespace samba {

/// Weight values sampled per tensor (every value of smaller tensors).
inline constexpr std::uint64_t fingerprint_samples_per_tensor = 256;

namespace detail {

inline void digest(io::Fnv1a& h, std::int64_t v) { h.update_u64(static_cast<std::uint64_t>(v)); }
inline void digest(io::Fnv1a& h, double v) { h.update_u64(std::bit_cast<std::uint64_t>(v)); }
inline void digest(io::Fnv1a& h, float v) { h.update_u64(std::bit_cast<std::uint32_t>(v)); }

inline void digest_config(io::Fnv1a& h, const ModelConfig& c) {
  for (char ch : std::string_view("samba model fingerprint v1")) h.update_u64(static_cast<unsigned char>(ch));
  digest(h, static_cast<std::int64_t>(c.architecture));
  for (index_t v : {c.d_model, c.n_layer, c.vocab_size, c.padded_vocab_size, index_t{c.tie_embeddings}}) digest(h, v);
  digest(h, c.norm_eps);
  digest(h, static_cast<index_t>(c.sublayers.size()));
  for (const auto& s : c.sublayers) {
    digest(h, static_cast<std::int64_t>(s.kind));
    digest(h, s.kind == SublayerKind::attention ? s.window : index_t{0});
  }
  if (c.count(SublayerKind::mamba) > 0) {
    const MambaDims& m = c.mamba;
    for (index_t v : {m.d_model, m.d_inner, m.d_state, m.d_conv, m.dt_rank, index_t{m.conv_bias}}) digest(h, v);
  }
  if (c.count(SublayerKind::attention) > 0) {
    const AttentionDims& a = c.attention;
    for (index_t v : {a.d_model, a.n_head, a.n_kv_head, a.head_size, a.rope_dims}) digest(h, v);
    digest(h, a.rope_base);
    digest(h, a.position_scale);
  }
  if (c.count(SublayerKind::mlp) > 0)
    for (index_t v : {c.mlp.d_model, c.mlp.d_hidden}) digest(h, v);
}

/// Element i of a parameter's storage as float32.
inline float value_at(const std::vector<float>& v, std::size_t i) { return v[i]; }
template <class W>
float value_at(const Matrix<W>& m, std::size_t i) {
  if constexpr (std::is_same_v<W, q8>) return m.scales[i / static_cast<std::size_t>(m.cols)] * static_cast<float>(m.values[i]);
  else return to_float(m.values[i]);
}
template <class W>
std::size_t element_total(const Matrix<W>& m) { return m.values.size(); }
inline std::size_t element_total(const std::vector<float>& v) { return v.size(); }

}  // namespace detail

/// The model's fingerprint (see the top of this file). It only reads the model; Model's
/// for_each_parameter is a non-const member (it hands out writable references), so it is called
/// through a const_cast and given a visitor that takes every tensor by const reference.
template <class ModelT>
std::uint64_t model_fingerprint(const ModelT& model) {
  auto& m = const_cast<ModelT&>(model);
  io::Fnv1a h;
  detail::digest_config(h, m.config());
  m.for_each_parameter([&](std::string_view, const Shape& shape, const auto& storage, ParamRole role) {
    detail::digest(h, static_cast<std::int64_t>(role));
    detail::digest(h, static_cast<index_t>(shape.size()));
    for (index_t d : shape) detail::digest(h, d);
    const std::uint64_t n = detail::element_total(storage);
    const std::uint64_t k = std::min(n, fingerprint_samples_per_tensor);
    for (std::uint64_t j = 0; j < k; ++j) {
      // Evenly spread, the last element included: j * (n - 1) / (k - 1) without overflow.
      const std::uint64_t i = k == 1 ? 0 : (n - 1) / (k - 1) * j + (n - 1) % (k - 1) * j / (k - 1);
      detail::digest(h, detail::value_at(storage, static_cast<std::size_t>(i)));
    }
  });
  return h.value();
}

}  // namespace samba
