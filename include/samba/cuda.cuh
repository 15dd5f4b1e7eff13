// samba/cuda.cuh: the CUDA backend in one include, for .cu files compiled by nvcc: the backend
// policy, its kernels and Model<S, backend::Cuda, W> with its member definitions.
#pragma once

#include "samba/backend/cuda.hpp"
#include "samba/model/cuda/model.cuh"
#include "samba/samba.hpp"
