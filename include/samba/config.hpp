// samba/config.hpp: the project's only macros, all prefixed SAMBA_.
#pragma once

#define SAMBA_VERSION_MAJOR 0
#define SAMBA_VERSION_MINOR 1
#define SAMBA_VERSION_PATCH 0
#define SAMBA_VERSION_STRING "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define SAMBA_RESTRICT __restrict__
#define SAMBA_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SAMBA_RESTRICT
#define SAMBA_ALWAYS_INLINE inline
#endif

// SAMBA_USE_CBLAS: 1 when the SIMD backend may call a CBLAS (OpenBLAS) sgemm for matrix products;
// set by the samba::simd CMake target when OpenBLAS is found. Without it Eigen does the products.
#ifndef SAMBA_USE_CBLAS
#define SAMBA_USE_CBLAS 0
#endif

// SAMBA_HAVE_SENTENCEPIECE: 1 when SentencePiece is linked, so that samba/text/sentencepiece_tokenizer.hpp
// can be used; set by the samba::text CMake target, which exists only when SentencePiece was found.
#ifndef SAMBA_HAVE_SENTENCEPIECE
#define SAMBA_HAVE_SENTENCEPIECE 0
#endif

// SAMBA_HAVE_CUDA: 1 where the CUDA backend (samba/backend/cuda.hpp, samba/cuda.cuh) can be used;
// set by the samba::cuda CMake target, which exists only with -DSAMBA_ENABLE_CUDA=ON.
#ifndef SAMBA_HAVE_CUDA
#define SAMBA_HAVE_CUDA 0
#endif

// SAMBA_WGMMA_DEVICE_CODE: 1 in device code compiled for sm_90a (Hopper with its arch-specific
// features: nvcc -gencode arch=compute_90a,code=sm_90a, CMake CUDA_ARCHITECTURES 90a), where the
// wgmma instructions of samba/ops/cuda/wgmma.cuh exist; 0 in host code and for other targets.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SAMBA_WGMMA_DEVICE_CODE 1
#else
#define SAMBA_WGMMA_DEVICE_CODE 0
#endif
