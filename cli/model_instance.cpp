// cli/model_instance.cpp: the model types the tool runs (each instantiated here once), the shared
// backend options, and loading a checkpoint into the selected type.
#include "model_instance.hpp"

#include <iostream>

#include "integer_options.hpp"

template class samba::Model<samba::ModelShape{}, samba::backend::Scalar, float>;
template class samba::Model<samba::ModelShape{}, samba::backend::Scalar, samba::bf16>;
template class samba::Model<samba::ModelShape{}, samba::backend::Simd, float>;
template class samba::Model<samba::ModelShape{}, samba::backend::Simd, samba::bf16>;
template class samba::Model<samba::ModelShape{}, samba::backend::Scalar, samba::q8>;
template class samba::Model<samba::ModelShape{}, samba::backend::Simd, samba::q8>;

namespace samba::cli {

void add_backend_options(CLI::App* cmd, BackendOptions& o) {
#if SAMBA_HAVE_CUDA
  cmd->add_option("--backend", o.backend,
                  "Kernels: simd (xsimd + BLAS, threaded), scalar (the reference) or cuda (one NVIDIA GPU; f32 or bf16)")
      ->capture_default_str()
      ->check(CLI::IsMember({"simd", "scalar", "cuda"}));
  cmd->add_option("--device", o.device, "CUDA device of the cuda backend")->capture_default_str()->check(integer_in(0, 1023));
  cmd->add_flag("--no-cuda-graphs{false}", o.cuda_graphs, "Launch every kernel of a decode step instead of replaying a CUDA graph");
#else
  cmd->add_option("--backend", o.backend,
                  "Kernels: simd (xsimd + BLAS, threaded) or scalar (the reference); this build has no CUDA backend "
                  "(configure with -DSAMBA_ENABLE_CUDA=ON)")
      ->capture_default_str()
      ->check(CLI::IsMember({"simd", "scalar"}));
#endif
  cmd->add_option("--threads", o.threads, "Threads for the simd backend (0 = the cores available)")
      ->capture_default_str()
      ->check(integer_in(0, 1024));
  cmd->add_option("--dtype", o.dtype,
                  "Weight storage: f32, bf16, or int8 (per-row scales, quantized at load); computed in float32")
      ->capture_default_str()
      ->check(CLI::IsMember({"f32", "bf16", "int8"}));
}

namespace {

/// Calls make(type_tag) with the model type the options select and wraps the result.
template <class Make>
AnyModel make_selected(const BackendOptions& o, Make&& make) {
#if SAMBA_HAVE_CUDA
  if (o.backend == "cuda") {
    require(o.dtype != "int8", "--backend cuda stores weights as f32 or bf16, not int8");
    if (o.dtype == "bf16") return make(std::type_identity<CudaBf16Model>{}, backend::Cuda(o.device));
    return make(std::type_identity<CudaModel>{}, backend::Cuda(o.device));
  }
#endif
  if (o.backend == "scalar") {
    if (o.dtype == "bf16") return make(std::type_identity<ScalarBf16Model>{}, backend::Scalar{});
    if (o.dtype == "int8") return make(std::type_identity<ScalarQ8Model>{}, backend::Scalar{});
    return make(std::type_identity<ScalarModel>{}, backend::Scalar{});
  }
  if (o.dtype == "bf16") return make(std::type_identity<SimdBf16Model>{}, backend::Simd(o.threads));
  if (o.dtype == "int8") return make(std::type_identity<SimdQ8Model>{}, backend::Simd(o.threads));
  return make(std::type_identity<SimdModel>{}, backend::Simd(o.threads));
}

/// Settings that only some backends have.
template <class M>
void configure(M& model, const BackendOptions& o) {
  if constexpr (requires { model.set_graphs(true); }) model.set_graphs(o.cuda_graphs);
  (void)model, (void)o;
}

}  // namespace

AnyModel load_any_model(const std::string& dir, const BackendOptions& options) {
  std::vector<std::string> unused;
  AnyModel model = make_selected(options, [&](auto type, auto backend) -> AnyModel {
    using M = typename decltype(type)::type;
    M loaded = load_model<M>(dir, &unused, std::move(backend));
    configure(loaded, options);
    return loaded;
  });
  if (!unused.empty())
    std::cerr << "samba: warning: " << dir << "/model.safetensors holds " << unused.size()
              << " tensor(s) the model does not use, e.g. '" << unused.front() << "'\n";
  return model;
}

AnyModel random_any_model(const ModelConfig& config, const BackendOptions& options, std::uint64_t seed) {
  return make_selected(options, [&](auto type, auto backend) -> AnyModel {
    using M = typename decltype(type)::type;
    M model(config, std::move(backend));
    randomize(model, seed);
    configure(model, options);
    return model;
  });
}

}  // namespace samba::cli
