// samba/samba.hpp: the whole library in one include.
#pragma once

#include "samba/config.hpp"
#include "samba/core/error.hpp"
#include "samba/io/safetensors.hpp"
#include "samba/model/config_json.hpp"
#include "samba/model/generate.hpp"
#include "samba/model/load.hpp"
#include "samba/model/memory.hpp"
#include "samba/model/model.hpp"
#include "samba/model/random_init.hpp"
#include "samba/model/sampling.hpp"
#include "samba/model/shape.hpp"
#include "samba/model/state_file.hpp"
