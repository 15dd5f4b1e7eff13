#!/usr/bin/env python3
"""Convert a checkpoint of the official Samba trainer (microsoft/Samba, lit-gpt) for this library.

Input:  a PyTorch ``.pth`` saved by the official trainer (``{"model": state_dict, ...}``), and the
        name of the official configuration it was trained with (``Samba_421M``, ``Samba_1.3B``, ...).
Output: a directory with
        ``config.json``        every lit-gpt ``Config`` field (official names, trainer defaults filled
                               in) plus the derived ``head_size`` and ``tie_embeddings``;
        ``model.safetensors``  the weights under their official state_dict names
                               (``lm_head.weight`` left out when it is tied to ``transformer.wte.weight``).

PyTorch is needed only to read the ``.pth``; everything else (validation, dtype conversion, the
safetensors writer) uses numpy and works on a plain ``{name: numpy.ndarray}`` dict, see
``convert_state_dict``.  bfloat16 tensors travel as numpy arrays of the structured dtype ``BF16``
(raw bfloat16 bit patterns); arrays of ``ml_dtypes.bfloat16`` are accepted as well.

Run ``--self-test`` to check the converter without torch.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import math
import os
import re
import struct
import sys
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

# ----------------------------------------------------------------------------------------------
# Official configurations.
#
# Transcribed (as data) from github.com/microsoft/Samba, lit_gpt/config.py, at commit
# 30a088af39cffcf2b31c37fb407ab92033b305c0 (last change to that file; repository HEAD
# ed3ed5424dbb12d0dbaf2b3d8c771598410761f0).  CONFIG_DEFAULTS are the defaults of its `Config`
# dataclass; each row of OFFICIAL_CONFIGS holds exactly the fields that row sets there (the _MS and
# _MAMBA dicts only factor out fields repeated by the rows).  Older revisions of that file used a
# few other names and, in the first commit, defined "LLaMA_438M_SWA" twice (the later 14-layer
# tied row won); this table follows the newest revision only.
# ----------------------------------------------------------------------------------------------

CONFIG_DEFAULTS: Dict[str, Any] = {
    "org": "Lightning-AI",
    "name": "lit-GPT",
    "block_size": 4096,
    "vocab_size": 50254,
    "padding_multiple": 512,
    "padded_vocab_size": None,       # None: computed from vocab_size and padding_multiple
    "n_layer": 16,
    "n_head": 32,
    "n_embd": 4096,
    "rotary_percentage": 0.25,
    "parallel_residual": True,
    "bias": True,
    "local_window": -1,
    "mlp": True,
    "full_per_layer": 1000000,
    "mb_per_layer": -1,
    "ret_per_layer": -1,
    "gla_per_layer": -1,
    "nope": False,
    "mamba": False,
    "sc_attn": False,
    "rms_norm": True,
    "residual_in_fp32": True,
    "fused_add_norm": True,
    "mamba_init": False,
    "attn_layer_pos": None,
    "use_mega": False,
    "abl_mamba": False,
    "mamba_swa_mlp": False,
    "n_query_groups": None,          # None: n_head
    "shared_attention_norm": False,
    "_norm_class": "LayerNorm",
    "norm_eps": 1e-5,
    "_mlp_class": "GptNeoxMLP",
    "intermediate_size": None,       # None: 4 * n_embd (an error for LLaMAMLP)
    "condense_ratio": 1,
}

# Value types accepted for each field (for --override); None allowed where the default is None.
_FIELD_TYPES: Dict[str, str] = {
    "org": "str", "name": "str", "_norm_class": "str", "_mlp_class": "str",
    "attn_layer_pos": "str?",
    "padded_vocab_size": "int?", "n_query_groups": "int?", "intermediate_size": "int?",
    "rotary_percentage": "float", "norm_eps": "float",
    "parallel_residual": "bool", "bias": "bool", "mlp": "bool", "nope": "bool", "mamba": "bool",
    "sc_attn": "bool", "rms_norm": "bool", "residual_in_fp32": "bool", "fused_add_norm": "bool",
    "mamba_init": "bool", "use_mega": "bool", "abl_mamba": "bool", "mamba_swa_mlp": "bool",
    "shared_attention_norm": "bool",
    "block_size": "int", "vocab_size": "int", "padding_multiple": "int", "n_layer": "int",
    "n_head": "int", "n_embd": "int", "local_window": "int", "full_per_layer": "int",
    "mb_per_layer": "int", "ret_per_layer": "int", "gla_per_layer": "int", "condense_ratio": "int",
}
assert set(_FIELD_TYPES) == set(CONFIG_DEFAULTS)

# Fields this tool adds to config.json; derived, so they cannot be overridden.
DERIVED_FIELDS = ("head_size", "tie_embeddings")

# Fields shared by the Microsoft rows (LLaMA-style blocks).
_MS = dict(org="Microsoft", block_size=4096, vocab_size=32000, padding_multiple=64,
           rotary_percentage=1.0, parallel_residual=False, bias=False,
           _norm_class="FusedRMSNorm", norm_eps=1e-5, _mlp_class="LLaMAMLP")
# Fields shared by the pure-Mamba rows (they keep org and the other fields at their defaults).
_MAMBA = dict(block_size=4096, vocab_size=32000, padding_multiple=64, norm_eps=1e-5, mamba=True,
              rms_norm=True, residual_in_fp32=True, fused_add_norm=True)

OFFICIAL_CONFIGS: List[Dict[str, Any]] = [
    dict(_MS, name="LLaMA_438M", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096),
    dict(_MS, name="S6Mega_438M", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, mamba_init=True, use_mega=True),
    dict(_MS, name="LLaMA_438M_SWA", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048),
    dict(_MS, name="LLaMA_438M_SWA_full", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, full_per_layer=2),
    dict(_MS, name="LLaMA_438M_SWA_mqa", n_layer=12, n_head=12, n_embd=1536, n_query_groups=1, intermediate_size=4608, local_window=2048),
    dict(_MS, name="LLaMA_438M_SWA_mqa6", n_layer=12, n_head=6, n_embd=1536, n_query_groups=1, intermediate_size=4608, local_window=2048),
    dict(_MS, name="LLaMA_438M_SWA_gqa2", n_layer=12, n_head=12, n_embd=1536, n_query_groups=2, intermediate_size=4608, local_window=2048),
    dict(_MS, name="LLaMA_438M_SWA_gqa4", n_layer=12, n_head=12, n_embd=1536, n_query_groups=4, intermediate_size=4608, local_window=2048),
    dict(_MS, name="LLaMA_438M2k", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, block_size=2048),
    dict(_MS, name="LLaMA_438M8k_SWA", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, block_size=8192, local_window=2048),
    dict(_MS, name="LLaMA_438M16k_SWA", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, block_size=16384, local_window=2048),
    dict(_MS, name="LLaMA_438M32k_SWA", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, block_size=32768, local_window=2048),
    dict(_MS, name="LLaMA_438M_SWA_paral", n_layer=14, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, mamba_init=True, parallel_residual=True, shared_attention_norm=True),
    dict(_MS, name="LLaMA_438M_SWA_8k4k", n_layer=14, n_head=12, n_embd=1536, intermediate_size=4096, block_size=8192, local_window=4096, mamba_init=True),
    dict(_MS, name="LLaMA_438M_SWA_8k2k", n_layer=14, n_head=12, n_embd=1536, intermediate_size=4096, block_size=8192, local_window=2048, mamba_init=True),
    dict(_MS, name="Samba_421M", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="Samba_421M_abl_mamba", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, mb_per_layer=2, mamba_init=True, abl_mamba=True),
    dict(_MS, name="Mamba_SWA_MLP_400M", n_layer=8, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, mamba_swa_mlp=True, mamba_init=True),
    dict(_MS, name="Samba_421M_nope", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, mb_per_layer=2, nope=True, mamba_init=True),
    dict(_MS, name="LLaMA_449M_full_mamba_0", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, attn_layer_pos="[0,]", mamba_init=True),
    dict(_MS, name="LLaMA_449M_full_mamba_11", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, attn_layer_pos="[11,]", mamba_init=True),
    dict(_MS, name="LLaMA_449M_full_mamba_5", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, attn_layer_pos="[5,]", mamba_init=True),
    dict(_MS, name="LLaMA_443M_full_mamba_1,5", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, attn_layer_pos="[1,5]", mamba_init=True),
    dict(_MS, name="Samba_421M_mqa", n_layer=12, n_head=12, n_embd=1536, n_query_groups=1, intermediate_size=4608, local_window=2048, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="Samba_421M_gqa4", n_layer=12, n_head=12, n_embd=1536, n_query_groups=4, intermediate_size=4608, local_window=2048, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="Samba_421M_gqa2", n_layer=12, n_head=12, n_embd=1536, n_query_groups=2, intermediate_size=4608, local_window=2048, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="Samba_421M_mqa6", n_layer=12, n_head=6, n_embd=1536, n_query_groups=1, intermediate_size=4608, local_window=2048, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="LLaMA_438M_SWA_gla", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, gla_per_layer=2),
    dict(_MS, name="LLaMA_446M_SWA_ret", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=2048, mamba_init=True, ret_per_layer=2),
    dict(_MS, name="Samba_421M_1k_window", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=1024, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="Samba_421M_512_window", n_layer=12, n_head=12, n_embd=1536, intermediate_size=4096, local_window=512, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="Samba_1.3B", n_layer=18, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mb_per_layer=2, mamba_init=True),
    dict(_MS, name="Samba_1.3B_nope", n_layer=18, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mb_per_layer=2, nope=True, mamba_init=True),
    dict(_MS, name="Samba_1.3B_abl_mamba", n_layer=18, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mb_per_layer=2, mamba_init=True, abl_mamba=True),
    dict(_MS, name="Mamba_SWA_MLP_1.3B", n_layer=12, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mamba_swa_mlp=True, mamba_init=True),
    dict(_MS, name="S6Mega_1.3B", n_layer=18, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mamba_init=True, use_mega=True),
    dict(_MS, name="LLaMA_1.2B_SWA_gla", n_layer=18, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mamba_init=True, gla_per_layer=2),
    dict(_MS, name="LLaMA_1.4B_SWA_ret", n_layer=18, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mamba_init=True, ret_per_layer=2),
    dict(_MS, name="LLaMA_1.3B_SWA", n_layer=20, n_head=18, n_embd=2304, intermediate_size=6144, local_window=2048, mamba_init=True),
    dict(_MS, name="LLaMA_1.3B_SWA_8k4k", n_layer=20, n_head=18, n_embd=2304, intermediate_size=6144, block_size=8192, local_window=4096, mamba_init=True),
    dict(_MS, name="LLaMA_1.3B_SWA_8k2k", n_layer=20, n_head=18, n_embd=2304, intermediate_size=6144, block_size=8192, local_window=2048, mamba_init=True),
    dict(_MS, name="LLaMA_1.3B", n_layer=20, n_head=18, n_embd=2304, intermediate_size=6144, mamba_init=True),
    dict(_MS, name="LLaMA_2.9B", n_layer=24, n_head=24, n_embd=3072, intermediate_size=8192, block_size=2048),
    dict(_MAMBA, name="Mamba_370M", n_layer=48, n_embd=1024),
    dict(_MAMBA, name="Mamba_430M", n_layer=60, n_embd=1024),
    dict(_MAMBA, name="Mamba_1.3B", n_layer=48, n_embd=2048),
]
CONFIG_BY_NAME: Dict[str, Dict[str, Any]] = {row["name"]: row for row in OFFICIAL_CONFIGS}
assert len(CONFIG_BY_NAME) == len(OFFICIAL_CONFIGS)

# Mamba mixer hyper-parameters: fixed defaults of the official Mamba module (not Config fields).
MAMBA_D_STATE = 16
MAMBA_D_CONV = 4
MAMBA_EXPAND = 2

SAFETENSORS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


class ConversionError(Exception):
    """A checkpoint or configuration this tool refuses; the message says why."""


# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------

def _find_multiple(n: int, k: int) -> int:
    """Smallest multiple of k that is >= n (lit-gpt's padding of the vocabulary)."""
    if k <= 0:
        raise ConversionError(f"padding_multiple must be positive, got {k}")
    return n if n % k == 0 else n + k - n % k


def _check_field_type(key: str, value: Any) -> Any:
    kind = _FIELD_TYPES[key]
    if kind.endswith("?"):
        if value is None:
            return None
        kind = kind[:-1]
    if key == "attn_layer_pos" and isinstance(value, (list, tuple)):
        value = "[" + ",".join(str(v) for v in value) + "]"   # the trainer stores it as a string
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise ConversionError(f"field {key!r} expects a {kind}{' or null' if _FIELD_TYPES[key].endswith('?') else ''}, "
                              f"got {json.dumps(value)}")
    if kind == "float":
        value = float(value)
    return value


def parse_attn_layer_pos(value: Optional[str]) -> Optional[List[int]]:
    """The trainer evaluates this string (e.g. "[1,5]") to the list of full-attention layers."""
    if value is None:
        return None
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError) as exc:
        raise ConversionError(f"attn_layer_pos {value!r} is not a Python list literal: {exc}") from None
    if isinstance(parsed, int) and not isinstance(parsed, bool):
        parsed = [parsed]
    if not isinstance(parsed, (list, tuple, set)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in parsed):
        raise ConversionError(f"attn_layer_pos {value!r} must be a list of layer indices")
    return sorted(set(parsed))


def resolve_config(fields: Mapping[str, Any]) -> Dict[str, Any]:
    """Fill defaults and derived values exactly as lit-gpt's Config.__post_init__ / GPT.__init__ do.

    `fields` may hold any subset of the Config fields; the result holds all of them plus
    head_size (n_embd // n_head) and tie_embeddings (mamba or mamba_init).
    """
    unknown = sorted(set(fields) - set(CONFIG_DEFAULTS) - set(DERIVED_FIELDS))
    if unknown:
        raise ConversionError(f"unknown Config field(s): {', '.join(unknown)}")
    cfg = dict(CONFIG_DEFAULTS)
    for key, value in fields.items():
        if key in DERIVED_FIELDS:
            continue
        cfg[key] = _check_field_type(key, value)
    if cfg["n_head"] <= 0 or cfg["n_embd"] <= 0 or cfg["n_layer"] <= 0:
        raise ConversionError("n_head, n_embd and n_layer must be positive")
    if cfg["n_embd"] % cfg["n_head"] != 0:
        raise ConversionError(f"n_embd ({cfg['n_embd']}) is not a multiple of n_head ({cfg['n_head']})")
    if cfg["padded_vocab_size"] is None:
        cfg["padded_vocab_size"] = _find_multiple(cfg["vocab_size"], cfg["padding_multiple"])
    if cfg["n_query_groups"] is None:
        cfg["n_query_groups"] = cfg["n_head"]
    elif cfg["n_query_groups"] <= 0 or cfg["n_head"] % cfg["n_query_groups"] != 0:
        raise ConversionError(f"n_head ({cfg['n_head']}) is not a multiple of n_query_groups ({cfg['n_query_groups']})")
    if cfg["intermediate_size"] is None:
        if cfg["_mlp_class"] == "LLaMAMLP":
            raise ConversionError("a LLaMAMLP configuration needs intermediate_size")
        cfg["intermediate_size"] = 4 * cfg["n_embd"]
    cfg["head_size"] = cfg["n_embd"] // cfg["n_head"]
    cfg["tie_embeddings"] = bool(cfg["mamba"] or cfg["mamba_init"])
    parse_attn_layer_pos(cfg["attn_layer_pos"])  # validate early
    return cfg


def layer_plan(cfg: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """What each block holds, following the official GPT/Block constructors.

    kind: "mamba_only" (Mamba-only model, MBlock), "mamba_swa_mlp", "mamba", "attention",
    "retnet", "gla", "mega", "abl_mamba" (MLP in place of Mamba).  `local` tells for attention
    whether the window applies (CausalSelfAttention: layer % full_per_layer < full_per_layer - 1).
    """
    plan = []
    attn_pos = parse_attn_layer_pos(cfg["attn_layer_pos"])
    fpl = cfg["full_per_layer"]
    for i in range(cfg["n_layer"]):
        local = (i % fpl < fpl - 1) if fpl != 0 else True
        if cfg["mamba"]:
            kind = "mamba_only"
        elif cfg["mamba_swa_mlp"]:
            kind = "mamba_swa_mlp"
        elif cfg["use_mega"]:
            kind = "mega"
        else:
            use_retnet = use_gla = False
            if attn_pos is not None:
                use_mamba = i not in attn_pos
            else:
                use_mamba = cfg["mb_per_layer"] > 0 and i % cfg["mb_per_layer"] == 0
                use_retnet = cfg["ret_per_layer"] > 0 and i % cfg["ret_per_layer"] == 0
                use_gla = cfg["gla_per_layer"] > 0 and i % cfg["gla_per_layer"] == 0
            if use_mamba:
                kind = "abl_mamba" if cfg["abl_mamba"] else "mamba"
            elif use_retnet:
                kind = "retnet"
            elif use_gla:
                kind = "gla"
            else:
                kind = "attention"
        plan.append({"kind": kind, "local": local})
    return plan


def unsupported_reasons(cfg: Mapping[str, Any]) -> List[str]:
    """Why the configuration uses something other than Mamba / attention / LLaMA MLP / RMSNorm."""
    reasons: List[str] = []
    kinds = {entry["kind"] for entry in layer_plan(cfg)}
    if cfg["mamba"]:
        if not cfg["rms_norm"]:
            reasons.append("Mamba-only model with rms_norm=false (LayerNorm)")
        return reasons
    if "mega" in kinds:
        reasons.append("use_mega (S6-Mega gated attention)")
    if "retnet" in kinds:
        reasons.append("ret_per_layer (multi-scale retention layers)")
    if "gla" in kinds:
        reasons.append("gla_per_layer (gated linear attention layers)")
    if "abl_mamba" in kinds:
        reasons.append("abl_mamba (a SwiGLU MLP in place of each Mamba mixer)")
    has_attention = "attention" in kinds or "mamba_swa_mlp" in kinds
    if has_attention and cfg["sc_attn"]:
        reasons.append("sc_attn (short convolutions on q/k/v)")
    if cfg["_norm_class"] not in ("RMSNorm", "FusedRMSNorm"):
        reasons.append(f"_norm_class {cfg['_norm_class']!r} (only RMSNorm / FusedRMSNorm)")
    if cfg["mlp"] and cfg["_mlp_class"] != "LLaMAMLP":
        reasons.append(f"_mlp_class {cfg['_mlp_class']!r} (only LLaMAMLP, the SwiGLU MLP)")
    if cfg["bias"] and (has_attention or cfg["mlp"]):
        reasons.append("bias=true (linear-layer biases)")
    if cfg["mlp"] and (cfg["parallel_residual"] or cfg["shared_attention_norm"]):
        reasons.append("parallel_residual / shared_attention_norm (the official Block then builds no "
                       "norm_2, yet its forward always runs a sequential MLP with norm_2)")
    if has_attention and not cfg["nope"]:
        rd = int(cfg["rotary_percentage"] * cfg["head_size"])
        if rd <= 0 or rd % 2 or rd > cfg["head_size"]:
            reasons.append(f"rotary_percentage {cfg['rotary_percentage']} gives {rd} rotary dims of "
                           f"head_size {cfg['head_size']} (needs an even number in 2..head_size)")
    if has_attention and (cfg["local_window"] == 0 or cfg["local_window"] < -1):
        reasons.append(f"local_window {cfg['local_window']} (must be -1 or positive)")
    if cfg["full_per_layer"] <= 0:
        reasons.append(f"full_per_layer {cfg['full_per_layer']} (must be positive)")
    return reasons


def build_config(name: str, overrides: Optional[Mapping[str, Any]] = None,
                 allow_unsupported: bool = False) -> Dict[str, Any]:
    """config.json content for an official configuration name (plus optional field overrides)."""
    if name not in CONFIG_BY_NAME:
        close = difflib.get_close_matches(name, list(CONFIG_BY_NAME), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConversionError(f"unknown configuration {name!r}{hint}; --list prints the known names")
    overrides = dict(overrides or {})
    for key in overrides:
        if key in DERIVED_FIELDS:
            source = "n_embd // n_head" if key == "head_size" else "mamba or mamba_init"
            raise ConversionError(f"{key} is derived ({source}) and cannot be overridden")
        if key not in CONFIG_DEFAULTS:
            close = difflib.get_close_matches(key, list(CONFIG_DEFAULTS), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConversionError(f"--override: unknown Config field {key!r}{hint}")
    fields = dict(CONFIG_BY_NAME[name])
    fields.update(overrides)
    cfg = resolve_config(fields)
    reasons = unsupported_reasons(cfg)
    if reasons and not allow_unsupported:
        raise ConversionError(
            f"configuration {cfg['name']!r} is not supported by this library: " + "; ".join(reasons)
            + ". Only models built from Mamba, (sliding-window) attention, the LLaMA SwiGLU MLP and "
              "RMSNorm can be converted.")
    return cfg


def describe_config(cfg: Mapping[str, Any]) -> str:
    """One-line human description of the block layout."""
    plan = layer_plan(cfg)
    tie = "tied" if cfg["tie_embeddings"] else "untied"
    if cfg["mamba"]:
        return f"Mamba-only ({len(plan)} MBlocks), {tie}"
    window = f"SWA w={cfg['local_window']}" if cfg["local_window"] > -1 else "full attention"
    if cfg["nope"]:
        window += " NoPE"
    n_global = sum(1 for e in plan if e["kind"] in ("attention", "mamba_swa_mlp") and not e["local"])
    if n_global and cfg["local_window"] > -1:
        window += f" ({n_global} global)"
    attn = f"{window}, G={cfg['n_query_groups']}"
    if cfg["mamba_swa_mlp"]:
        return f"Mamba+attention+MLP per block, {attn}, I={cfg['intermediate_size']}, {tie}"
    counts: Dict[str, int] = {}
    for e in plan:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    mix = " + ".join(f"{n} {k}" for k, n in counts.items())
    return f"{mix}, {attn}, I={cfg['intermediate_size']}, {tie}"


# ----------------------------------------------------------------------------------------------
# Expected tensors
# ----------------------------------------------------------------------------------------------

def _mamba_shapes(prefix: str, d_model: int) -> List[Tuple[str, Tuple[int, ...]]]:
    e = MAMBA_EXPAND * d_model
    n, k = MAMBA_D_STATE, MAMBA_D_CONV
    r = math.ceil(d_model / 16)
    return [
        (prefix + "in_proj.weight", (2 * e, d_model)),
        (prefix + "conv1d.weight", (e, 1, k)),
        (prefix + "conv1d.bias", (e,)),
        (prefix + "x_proj.weight", (r + 2 * n, e)),
        (prefix + "dt_proj.weight", (e, r)),
        (prefix + "dt_proj.bias", (e,)),
        (prefix + "A_log", (e, n)),
        (prefix + "D", (e,)),
        (prefix + "out_proj.weight", (d_model, e)),
    ]


def _attention_shapes(prefix: str, cfg: Mapping[str, Any]) -> List[Tuple[str, Tuple[int, ...]]]:
    d, hs, nh, g = cfg["n_embd"], cfg["head_size"], cfg["n_head"], cfg["n_query_groups"]
    return [
        (prefix + "attn.weight", ((nh + 2 * g) * hs, d)),
        (prefix + "proj.weight", (d, nh * hs)),
    ]


def _mlp_shapes(prefix: str, cfg: Mapping[str, Any]) -> List[Tuple[str, Tuple[int, ...]]]:
    d, i = cfg["n_embd"], cfg["intermediate_size"]
    return [
        (prefix + "swiglu.w1.weight", (i, d)),
        (prefix + "swiglu.w2.weight", (i, d)),
        (prefix + "swiglu.w3.weight", (d, i)),
    ]


def expected_tensors(cfg: Mapping[str, Any], include_lm_head: Optional[bool] = None
                     ) -> Dict[str, Tuple[int, ...]]:
    """Official state_dict names and shapes the configuration needs.

    lm_head.weight is included when the embeddings are untied (or when include_lm_head is True).
    """
    reasons = unsupported_reasons(cfg)
    if reasons:
        raise ConversionError("unsupported configuration: " + "; ".join(reasons))
    d, v = cfg["n_embd"], cfg["padded_vocab_size"]
    out: List[Tuple[str, Tuple[int, ...]]] = [("transformer.wte.weight", (v, d))]
    for i, entry in enumerate(layer_plan(cfg)):
        p = f"transformer.h.{i}."
        kind = entry["kind"]
        if kind == "mamba_only":
            out.append((p + "norm.weight", (d,)))
            out += _mamba_shapes(p + "mixer.", d)
            continue                      # MBlock: no MLP
        if kind == "mamba_swa_mlp":
            out.append((p + "norm_m.weight", (d,)))
            out += _mamba_shapes(p + "mb.", d)
            out.append((p + "norm_attn.weight", (d,)))
            out += _attention_shapes(p + "attn.", cfg)
        else:
            out.append((p + "norm_1.weight", (d,)))
            if kind == "mamba":
                out += _mamba_shapes(p + "attn.", d)
            else:
                out += _attention_shapes(p + "attn.", cfg)
        if cfg["mlp"]:
            out.append((p + "norm_2.weight", (d,)))
            out += _mlp_shapes(p + "mlp.", cfg)
    out.append(("transformer.ln_f.weight", (d,)))
    if include_lm_head if include_lm_head is not None else not cfg["tie_embeddings"]:
        out.append(("lm_head.weight", (v, d)))
    return dict(out)


def parameter_count(cfg: Mapping[str, Any]) -> int:
    """Parameters of the model (a tied lm_head counted once)."""
    return sum(int(np.prod(s)) for s in expected_tensors(cfg).values())


# ----------------------------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------------------------

# bfloat16 as raw bit patterns: a plain numpy structured dtype, so no torch / ml_dtypes is needed.
BF16 = np.dtype([("bf16", "<u2")])

_ST_DTYPES = {
    np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
    np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
    np.dtype("int8"): "I8", np.dtype("uint64"): "U64", np.dtype("uint32"): "U32",
    np.dtype("uint16"): "U16", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
}
_ST_TO_NP = {name: dt for dt, name in _ST_DTYPES.items()}
_ST_TO_NP["BF16"] = BF16
_FLOAT_NAMES = ("F64", "F32", "F16", "BF16")


def normalize_array(a: Any) -> np.ndarray:
    """numpy array in native layout; ml_dtypes bfloat16 becomes the BF16 structured dtype."""
    a = np.asarray(a)
    if a.dtype.name == "bfloat16":                       # ml_dtypes.bfloat16
        a = np.ascontiguousarray(a).view(np.uint16).view(BF16)
    if a.dtype != BF16 and a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a


def st_dtype(a: np.ndarray) -> str:
    """safetensors dtype name of an array."""
    if a.dtype == BF16:
        return "BF16"
    key = a.dtype.newbyteorder("=") if a.dtype.byteorder in "<>" else a.dtype
    if key not in _ST_DTYPES:
        raise ConversionError(f"dtype {a.dtype} cannot be stored in safetensors by this tool")
    return _ST_DTYPES[key]


def bf16_to_f32(a: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(a).view(np.uint16).astype(np.uint32)
    return (bits << np.uint32(16)).view(np.float32).reshape(a.shape)


def f32_to_bf16(a: np.ndarray) -> np.ndarray:
    """Round to nearest even (as torch does); NaN stays NaN."""
    f = np.ascontiguousarray(a, dtype=np.float32)
    u = f.view(np.uint32)
    rounded = ((u + (((u >> np.uint32(16)) & np.uint32(1)) + np.uint32(0x7FFF))) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(f)
    if nan.any():
        rounded[nan] = ((u[nan] >> np.uint32(16)) | np.uint32(0x0040)).astype(np.uint16)
    return rounded.view(BF16).reshape(f.shape)


def cast_array(a: np.ndarray, target: str, name: str = "", warn: Optional[Callable[[str], None]] = None
               ) -> np.ndarray:
    """Cast a floating array to target in {"keep", "f32", "bf16", "f16"}; others are returned as is."""
    src = st_dtype(a)
    if target == "keep" or src not in _FLOAT_NAMES:
        return a
    want = {"f32": "F32", "bf16": "BF16", "f16": "F16"}[target]
    if src == want:
        return a
    f32 = bf16_to_f32(a) if src == "BF16" else a.astype(np.float32)
    if want == "F32":
        return f32
    if want == "BF16":
        return f32_to_bf16(f32)
    with np.errstate(over="ignore"):
        out = f32.astype(np.float16)
    if warn is not None:
        overflow = int(np.count_nonzero(np.isinf(out) & np.isfinite(f32)))
        if overflow:
            warn(f"{name}: {overflow} value(s) overflow float16 and became inf")
    return out


def _bits(a: np.ndarray) -> np.ndarray:
    """Flat unsigned-integer view of the array's bytes (for bit-exact comparison)."""
    a = np.ascontiguousarray(a).reshape(-1)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}.get(a.dtype.itemsize, np.uint8))


def same_tensor(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype != b.dtype:
        return st_dtype(a) in _FLOAT_NAMES and st_dtype(b) in _FLOAT_NAMES and bool(
            np.array_equal(cast_array(a, "f32"), cast_array(b, "f32"), equal_nan=True))
    return bool(np.array_equal(_bits(a), _bits(b)))


# ----------------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------------

def write_safetensors(path: str, tensors: Mapping[str, np.ndarray],
                      metadata: Optional[Mapping[str, str]] = None) -> int:
    """Write tensors in the safetensors format; returns the file size.

    Layout: u64 little-endian header length N, N bytes of JSON (padded with spaces so the data
    starts at a multiple of 8), then the raw little-endian C-order data of every tensor.  Tensors
    are stored in order of decreasing element size, then by name, so each one is aligned to its
    element size.
    """
    arrays = {name: normalize_array(a) for name, a in tensors.items()}
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    header: Dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": st_dtype(a), "shape": [int(s) for s in a.shape],
                        "data_offsets": [offset, offset + int(a.nbytes)]}
        offset += int(a.nbytes)
    blob = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in order:
            flat = np.ascontiguousarray(arrays[name]).reshape(-1)
            if flat.size:
                f.write(memoryview(flat.view(np.uint8)))
    os.replace(tmp, path)
    return 8 + len(blob) + offset


def read_safetensors_header(path: str) -> Tuple[Dict[str, Any], int]:
    """(header dict, byte offset where the data section starts)."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ConversionError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        size = os.fstat(f.fileno()).st_size
        if n > size - 8:
            raise ConversionError(f"{path}: header length {n} exceeds the file")
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def read_safetensors(path: str) -> Dict[str, np.ndarray]:
    """Read every tensor (numpy; BF16 as the structured BF16 dtype).  Used by the self-test."""
    header, start = read_safetensors_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=_ST_TO_NP[info["dtype"]]).reshape(info["shape"])
    return out


# ----------------------------------------------------------------------------------------------
# State-dict conversion (torch-free)
# ----------------------------------------------------------------------------------------------

_WRAPPER_PARTS = ("_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module")


def strip_wrapper_prefixes(name: str) -> str:
    """Remove `module.` (DDP) / `_orig_mod.` (torch.compile) and FSDP/checkpoint wrapper parts."""
    parts = name.split(".")
    while parts and parts[0] in ("module",) + _WRAPPER_PARTS:
        parts.pop(0)
    return ".".join(p for p in parts if p not in _WRAPPER_PARTS)


def clean_state_dict(state_dict: Mapping[str, Any], warn: Callable[[str], None]) -> Dict[str, np.ndarray]:
    out: Dict[str, np.ndarray] = {}
    origin: Dict[str, str] = {}
    for raw_name, value in state_dict.items():
        name = strip_wrapper_prefixes(str(raw_name))
        if value is None or isinstance(value, (bytes, str, int, float, dict, list, tuple)):
            warn(f"skipping non-tensor entry {raw_name!r}")
            continue
        if name in out:
            if same_tensor(out[name], normalize_array(value)):
                continue
            raise ConversionError(f"{raw_name!r} and {origin[name]!r} both map to {name!r} but differ")
        out[name] = normalize_array(value)
        origin[name] = str(raw_name)
    return out


def _fmt_shape(shape: Iterable[int]) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


def _matching_configs(tensors: Mapping[str, np.ndarray]) -> List[str]:
    """Known supported configurations whose tensor set matches these tensors exactly."""
    names = []
    have = {k: tuple(v.shape) for k, v in tensors.items() if k != "lm_head.weight"}
    for row in OFFICIAL_CONFIGS:
        try:
            cfg = build_config(row["name"])
        except ConversionError:
            continue
        want = expected_tensors(cfg, include_lm_head=False)
        if want == have:
            names.append(row["name"])
    return names


def validate_state_dict(tensors: Mapping[str, np.ndarray], cfg: Mapping[str, Any]
                        ) -> Tuple[Dict[str, Tuple[int, ...]], List[str]]:
    """Check names and shapes; returns (expected tensors, unexpected names) or raises."""
    want = expected_tensors(cfg)
    errors: List[str] = []
    tied = cfg["tie_embeddings"]
    for name, shape in want.items():
        if name not in tensors:
            errors.append(f"missing tensor {name} (expected shape {_fmt_shape(shape)})")
        elif tuple(tensors[name].shape) != tuple(shape):
            errors.append(f"tensor {name} has shape {_fmt_shape(tensors[name].shape)}, "
                          f"expected {_fmt_shape(shape)}")
        elif st_dtype(tensors[name]) not in _FLOAT_NAMES:
            errors.append(f"tensor {name} has dtype {st_dtype(tensors[name])}, expected a floating type")
    if tied and "lm_head.weight" in tensors and "transformer.wte.weight" in tensors:
        if not same_tensor(tensors["lm_head.weight"], tensors["transformer.wte.weight"]):
            errors.append("lm_head.weight differs from transformer.wte.weight although the configuration "
                          "ties them (tie_embeddings = mamba or mamba_init = true); if the model was "
                          "trained untied, pass --override mamba_init=false")
    if errors:
        shown = 20
        msg = f"checkpoint does not fit configuration {cfg['name']!r}:\n  " + "\n  ".join(errors[:shown])
        if len(errors) > shown:
            msg += f"\n  ... and {len(errors) - shown} more"
        wte = tensors.get("transformer.wte.weight")
        if wte is not None and wte.ndim == 2 and wte.shape[0] != cfg["padded_vocab_size"]:
            msg += (f"\nhint: the embedding has {wte.shape[0]} rows; if the model was trained with another "
                    f"vocabulary, pass --override vocab_size=... (or padded_vocab_size=...)")
        matches = [n for n in _matching_configs(tensors) if n != cfg["name"]]
        if matches:
            msg += "\nhint: the tensors match configuration(s): " + ", ".join(matches[:8])
        raise ConversionError(msg)
    extra = [n for n in tensors if n not in want and not (n == "lm_head.weight" and tied)]
    return want, sorted(extra)


def convert_state_dict(state_dict: Mapping[str, Any], cfg: Mapping[str, Any], out_dir: str,
                       dtype: str = "keep", keep_extra: bool = False, overwrite: bool = True,
                       warn: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Validate a {name: numpy array} state dict against cfg and write config.json + model.safetensors.

    cfg is a resolved configuration (build_config / resolve_config).  Names may carry
    `module.` / `_orig_mod.` prefixes.  A tied lm_head.weight is dropped (it must equal
    transformer.wte.weight); unexpected tensors are reported through warn and left out unless
    keep_extra.  dtype: "keep", "f32", "bf16" or "f16" (floating tensors only).
    Returns a summary dict (tensors, parameters, bytes, dtypes, path, config_path).
    """
    if warn is None:
        def warn(msg: str) -> None:
            print(f"warning: {msg}", file=sys.stderr)
    if dtype not in ("keep", "f32", "bf16", "f16"):
        raise ConversionError(f"unknown dtype {dtype!r} (keep, f32, bf16, f16)")
    cfg = dict(cfg)
    missing_fields = [k for k in list(CONFIG_DEFAULTS) + list(DERIVED_FIELDS) if k not in cfg]
    if missing_fields:
        raise ConversionError("configuration lacks field(s): " + ", ".join(missing_fields))
    tensors = clean_state_dict(state_dict, warn)
    want, extra = validate_state_dict(tensors, cfg)
    for name in extra:
        warn(f"unexpected tensor {name} {_fmt_shape(tensors[name].shape)}"
             + (" (kept)" if keep_extra else " (not written)"))
    names = list(want) + (extra if keep_extra else [])
    out_tensors: Dict[str, np.ndarray] = {}
    for name in names:
        a = tensors[name]
        if st_dtype(a) == "F64" and dtype == "keep":
            warn(f"{name} is float64; written as F64 (use --dtype f32 for a smaller file)")
        out_tensors[name] = cast_array(a, dtype, name, warn)

    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, SAFETENSORS_NAME)
    cfg_path = os.path.join(out_dir, CONFIG_NAME)
    if not overwrite:
        for p in (st_path, cfg_path):
            if os.path.exists(p):
                raise ConversionError(f"{p} exists (pass --force to overwrite)")
    meta = {"format": "pt", "source": "microsoft/Samba lit-gpt checkpoint", "config_name": str(cfg["name"])}
    nbytes = write_safetensors(st_path, out_tensors, meta)
    with open(cfg_path + ".tmp", "w", encoding="utf-8") as f:
        f.write(json.dumps(cfg, indent=1, sort_keys=True) + "\n")
    os.replace(cfg_path + ".tmp", cfg_path)
    dtypes: Dict[str, int] = {}
    for a in out_tensors.values():
        dtypes[st_dtype(a)] = dtypes.get(st_dtype(a), 0) + 1
    return {
        "tensors": len(out_tensors),
        "parameters": int(sum(int(a.size) for a in out_tensors.values())),
        "bytes": nbytes,
        "dtypes": dtypes,
        "path": st_path,
        "config_path": cfg_path,
    }


# ----------------------------------------------------------------------------------------------
# .pth reading (the only part that needs torch)
# ----------------------------------------------------------------------------------------------

def _torch_to_numpy(t: Any, torch: Any, name: str) -> np.ndarray:
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16).view(BF16)
    try:
        return t.numpy()
    except (TypeError, RuntimeError) as exc:
        raise ConversionError(f"tensor {name} has dtype {t.dtype}, which cannot be converted: {exc}") from None


def load_pth_state_dict(path: str, warn: Callable[[str], None]) -> Dict[str, np.ndarray]:
    """Read the "model" state_dict of an official trainer checkpoint as numpy arrays."""
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    try:
        import torch  # noqa: PLC0415  (lazy: only needed for .pth input)
    except ImportError:
        raise ConversionError("reading a .pth checkpoint needs PyTorch (pip install torch)") from None

    obj = None
    first_error: Optional[BaseException] = None
    for kwargs in ({"weights_only": True, "mmap": True}, {"weights_only": True}):
        try:
            obj = torch.load(path, map_location="cpu", **kwargs)
            break
        except Exception as exc:  # noqa: BLE001  (older torch, legacy format, disallowed globals)
            first_error = first_error or exc
    if obj is None:
        reason = re.sub(r"\x1b\[[0-9;]*m", "", str(first_error)).strip().splitlines()[0] if first_error \
            else "unknown reason"
        warn(f"torch.load(weights_only=True) failed ({reason}); retrying with full unpickling - "
             f"only do this with checkpoints you trust")
        for kwargs in ({"weights_only": False, "mmap": True}, {"weights_only": False}, {}):
            try:
                obj = torch.load(path, map_location="cpu", **kwargs)
                break
            except TypeError:
                continue
            except Exception as exc:  # noqa: BLE001
                if "mmap" in kwargs:
                    continue
                raise ConversionError(f"{path}: torch.load failed: {exc}") from None
    if obj is None:
        raise ConversionError(f"{path}: torch.load failed")

    if isinstance(obj, Mapping) and "model" in obj:
        sd = obj["model"]
    elif isinstance(obj, Mapping) and "state_dict" in obj:
        warn("checkpoint has no 'model' entry; using its 'state_dict' entry")
        sd = obj["state_dict"]
    elif isinstance(obj, Mapping) and obj and all(torch.is_tensor(v) for v in obj.values()):
        warn("checkpoint has no 'model' entry; treating the whole file as a state_dict")
        sd = obj
    else:
        keys = ", ".join(map(str, list(obj)[:10])) if isinstance(obj, Mapping) else type(obj).__name__
        raise ConversionError(f"{path}: expected {{'model': state_dict, ...}}, found {keys}")
    if hasattr(sd, "state_dict") and not isinstance(sd, Mapping):
        sd = sd.state_dict()
    if not isinstance(sd, Mapping):
        raise ConversionError(f"{path}: 'model' entry is a {type(sd).__name__}, not a state_dict")

    out: Dict[str, np.ndarray] = {}
    for name, value in sd.items():
        if torch.is_tensor(value):
            out[name] = _torch_to_numpy(value, torch, name)
        else:
            warn(f"skipping non-tensor entry {name!r} ({type(value).__name__})")
    return out


# ----------------------------------------------------------------------------------------------
# Self-test (numpy only)
# ----------------------------------------------------------------------------------------------

def _random_state_dict(cfg: Mapping[str, Any], rng: np.random.Generator) -> Dict[str, np.ndarray]:
    return {name: rng.standard_normal(shape).astype(np.float32)
            for name, shape in expected_tensors(cfg).items()}


def self_test() -> int:
    checks = 0
    warnings: List[str] = []

    def check(cond: Any, msg: str) -> None:
        nonlocal checks
        checks += 1
        if not cond:
            raise AssertionError(msg)

    def expect_error(fn: Callable[[], Any], *needles: str) -> None:
        try:
            fn()
        except ConversionError as exc:
            for needle in needles:
                check(needle in str(exc), f"error message lacks {needle!r}: {exc}")
            return
        raise AssertionError(f"expected a ConversionError mentioning {needles}")

    def verify_file(path: str, written: Mapping[str, np.ndarray]) -> Dict[str, Any]:
        header, start = read_safetensors_header(path)
        size = os.path.getsize(path)
        check(start % 8 == 0, "data section not 8-byte aligned")
        with open(path, "rb") as f:
            raw_header = f.read(start)[8:]
        check(raw_header.rstrip(b" ") == raw_header.rstrip(), "header padding is not spaces")
        check(header.get("__metadata__", {}).get("format") == "pt", "missing __metadata__.format")
        entries = sorted(((v["data_offsets"], k) for k, v in header.items() if k != "__metadata__"))
        check({k for _, k in entries} == set(written), "tensor names differ from what was written")
        pos = 0
        for (b, e), name in entries:
            info = header[name]
            itemsize = _ST_TO_NP[info["dtype"]].itemsize
            check(b == pos, f"{name}: gap or overlap at {b} (expected {pos})")
            check(e - b == itemsize * int(np.prod(info["shape"], dtype=np.int64)), f"{name}: size mismatch")
            check(b % itemsize == 0, f"{name}: offset {b} not aligned to {itemsize}")
            check(tuple(info["shape"]) == tuple(written[name].shape), f"{name}: shape mismatch")
            check(info["dtype"] == st_dtype(written[name]), f"{name}: dtype mismatch")
            pos = e
        check(start + pos == size, "data section does not end at end of file")
        back = read_safetensors(path)
        for name, a in written.items():
            check(np.array_equal(_bits(back[name]), _bits(normalize_array(a))), f"{name}: data differs")
        return header

    # 1. A tiny made-up Samba configuration: Mamba block then SWA block, GQA, tied, padded vocab.
    tiny = resolve_config(dict(
        _MS, name="selftest_samba", org="test", vocab_size=250, padding_multiple=64, n_layer=2,
        n_head=4, n_query_groups=2, n_embd=64, intermediate_size=128, local_window=8,
        mb_per_layer=2, mamba_init=True))
    check(tiny["padded_vocab_size"] == 256 and tiny["head_size"] == 16 and tiny["tie_embeddings"],
          "derived fields of the tiny config")
    check(set(tiny) == set(CONFIG_DEFAULTS) | set(DERIVED_FIELDS) and len(tiny) == 38, "config field set")
    want = expected_tensors(tiny)
    check([e["kind"] for e in layer_plan(tiny)] == ["mamba", "attention"], "Samba layer pattern")
    check(want["transformer.h.0.attn.in_proj.weight"] == (256, 64), "in_proj shape")
    check(want["transformer.h.0.attn.conv1d.weight"] == (128, 1, 4), "conv1d shape")
    check(want["transformer.h.0.attn.x_proj.weight"] == (4 + 32, 128), "x_proj shape")
    check(want["transformer.h.0.attn.dt_proj.weight"] == (128, 4), "dt_proj shape")
    check(want["transformer.h.0.attn.A_log"] == (128, 16), "A_log shape")
    check(want["transformer.h.0.attn.out_proj.weight"] == (64, 128), "out_proj shape")
    check(want["transformer.h.1.attn.attn.weight"] == ((4 + 2 * 2) * 16, 64), "fused qkv shape")
    check(want["transformer.h.1.attn.proj.weight"] == (64, 64), "proj shape")
    check(want["transformer.h.1.mlp.swiglu.w3.weight"] == (64, 128), "w3 shape")
    check(want["transformer.wte.weight"] == (256, 64) and "lm_head.weight" not in want, "embedding")

    rng = np.random.default_rng(0)
    sd = _random_state_dict(tiny, rng)
    sd["lm_head.weight"] = sd["transformer.wte.weight"].copy()          # tied: identical copy
    sd["transformer.h.0.attn.A_log"] = np.log(np.tile(np.arange(1, 17, dtype=np.float32), (128, 1)))
    sd["transformer.h.1.attn.attn.weight"] = f32_to_bf16(sd["transformer.h.1.attn.attn.weight"])  # mixed
    wrapped = {("_orig_mod." if i % 3 == 0 else "module._orig_mod." if i % 3 == 1 else "") + k: v
               for i, k, v in ((i, k, v) for i, (k, v) in enumerate(sd.items()))}
    wrapped["module.transformer.h.0.attn.unexpected_buffer"] = np.zeros(3, np.float32)
    check(strip_wrapper_prefixes("module._orig_mod.transformer.ln_f.weight") == "transformer.ln_f.weight",
          "prefix stripping")

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "keep")
        summary = convert_state_dict(wrapped, tiny, out, "keep", warn=warnings.append)
        expected_written = {k: v for k, v in sd.items() if k != "lm_head.weight"}
        check(summary["tensors"] == len(want) == len(expected_written), "tensor count")
        check(summary["parameters"] == parameter_count(tiny), "parameter count")
        check(any("unexpected_buffer" in w for w in warnings), "no warning for the extra tensor")
        header = verify_file(summary["path"], expected_written)
        first = min((v["data_offsets"][0], k) for k, v in header.items() if k != "__metadata__")[1]
        check(header[first]["dtype"] == "F32", "wider dtypes are not stored first")
        with open(summary["config_path"]) as f:
            written_cfg = json.load(f)
        check(written_cfg == json.loads(json.dumps(tiny)), "config.json differs from the resolved config")

        # dtype conversions
        for target, name in (("bf16", "BF16"), ("f16", "F16"), ("f32", "F32")):
            s = convert_state_dict(wrapped, tiny, os.path.join(tmp, target), target, warn=warnings.append)
            back = read_safetensors(s["path"])
            check(all(st_dtype(a) == name for a in back.values()), f"--dtype {target} left other dtypes")
            src = sd["transformer.h.0.attn.in_proj.weight"]
            got = cast_array(back["transformer.h.0.attn.in_proj.weight"], "f32")
            tol = {"bf16": 2.0 ** -8, "f16": 2.0 ** -11, "f32": 0.0}[target]
            check(np.all(np.abs(got - src) <= tol * np.abs(src) + 1e-7), f"--dtype {target} inaccurate")
        probe = np.array([1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, -2.5, np.inf, -np.inf, np.nan, 0.0],
                         np.float32)
        bits = f32_to_bf16(probe).view(np.uint16)
        check(list(bits[:6]) == [0x3F80, 0x3F80, 0x3F82, 0xC020, 0x7F80, 0xFF80] and bits[7] == 0,
              f"bf16 rounding {[hex(b) for b in bits]}")
        check(np.isnan(bf16_to_f32(f32_to_bf16(probe))[6]), "bf16 NaN")

        # errors: missing, mis-shaped, tied-but-different, untied without lm_head
        bad = dict(sd)
        del bad["transformer.h.0.attn.D"]
        expect_error(lambda: convert_state_dict(bad, tiny, os.path.join(tmp, "e1"), warn=warnings.append),
                     "missing tensor transformer.h.0.attn.D", "[128]")
        bad = dict(sd)
        bad["transformer.h.1.attn.attn.weight"] = np.zeros((96, 64), np.float32)
        expect_error(lambda: convert_state_dict(bad, tiny, os.path.join(tmp, "e2"), warn=warnings.append),
                     "transformer.h.1.attn.attn.weight", "[96, 64]", "[128, 64]")
        bad = dict(sd)
        bad["lm_head.weight"] = bad["lm_head.weight"] + 1
        expect_error(lambda: convert_state_dict(bad, tiny, os.path.join(tmp, "e3"), warn=warnings.append),
                     "lm_head.weight differs")
        untied = resolve_config(dict(tiny, mamba_init=False))
        no_head = {k: v for k, v in sd.items() if k != "lm_head.weight"}
        expect_error(lambda: convert_state_dict(no_head, untied, os.path.join(tmp, "e4"), warn=warnings.append),
                     "missing tensor lm_head.weight")
        s = convert_state_dict(sd, untied, os.path.join(tmp, "untied"), warn=warnings.append)
        check("lm_head.weight" in read_safetensors_header(s["path"])[0], "untied lm_head not written")
        expect_error(lambda: convert_state_dict(sd, tiny, os.path.join(tmp, "keep"), overwrite=False,
                                                warn=warnings.append), "exists")

        # the other block layouts
        for extra in (dict(mb_per_layer=-1, mamba_init=False),      # LLaMA-SWA, untied
                      dict(mb_per_layer=-1, mamba_swa_mlp=True),    # Mamba + SWA + MLP in one block
                      dict(nope=True, n_query_groups=1),            # NoPE, MQA
                      dict(attn_layer_pos="[1,]", local_window=-1)):  # Mamba + full attention
            c = resolve_config(dict(tiny, **extra))
            s = convert_state_dict(_random_state_dict(c, rng), c, os.path.join(tmp, "layout"),
                                   warn=warnings.append)
            check(s["parameters"] == parameter_count(c), f"layout {extra}")
        c = resolve_config(dict(_MAMBA, name="selftest_mamba", n_layer=2, n_embd=64, vocab_size=250))
        check("transformer.h.1.mixer.A_log" in expected_tensors(c) and c["tie_embeddings"], "Mamba-only names")

    # 2. The official table.
    check(parameter_count(build_config("Samba_421M")) == 421_793_280, "Samba_421M parameter count")
    check(parameter_count(build_config("Samba_1.3B")) == 1_330_207_488, "Samba_1.3B parameter count")
    s421 = build_config("Samba_421M")
    check(s421["padded_vocab_size"] == 32000 and s421["head_size"] == 128 and s421["n_query_groups"] == 12,
          "Samba_421M derived fields")
    check(build_config("Samba_421M_gqa2")["n_query_groups"] == 2, "gqa2")
    check(not build_config("LLaMA_438M_SWA")["tie_embeddings"], "LLaMA_438M_SWA is untied")
    check([e["kind"] for e in layer_plan(build_config("LLaMA_443M_full_mamba_1,5"))][:6]
          == ["mamba", "attention", "mamba", "mamba", "mamba", "attention"], "attn_layer_pos plan")
    check(sum(not e["local"] for e in layer_plan(build_config("LLaMA_438M_SWA_full"))) == 6, "full_per_layer")
    check(build_config("Mamba_SWA_MLP_400M", {"local_window": 1024})["local_window"] == 1024, "override")
    for name in ("S6Mega_438M", "Samba_421M_abl_mamba", "LLaMA_438M_SWA_gla", "LLaMA_446M_SWA_ret",
                 "LLaMA_438M_SWA_paral"):
        expect_error(lambda name=name: build_config(name), "not supported")
    expect_error(lambda: build_config("Samba_421m"), "unknown configuration", "Samba_421M")
    expect_error(lambda: build_config("Samba_421M", {"head_size": 64}), "derived")
    expect_error(lambda: build_config("Samba_421M", {"n_query_groups": 5}), "n_query_groups")
    expect_error(lambda: build_config("Samba_421M", {"local_window": "wide"}), "local_window")
    check(parse_override("attn_layer_pos=[1,5]") == ("attn_layer_pos", [1, 5]), "override parsing")
    check(parse_override("name=my_run") == ("name", "my_run"), "override string fallback")
    supported = [r["name"] for r in OFFICIAL_CONFIGS if not unsupported_reasons(resolve_config(r))]
    for name in supported:
        expected_tensors(build_config(name))

    print(f"self-test: OK ({checks} checks, {len(supported)} supported configurations)")
    return 0


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------

def parse_override(text: str) -> Tuple[str, Any]:
    """KEY=VALUE with a JSON value; a value that is not JSON is taken as a plain string."""
    if "=" not in text:
        raise ConversionError(f"--override {text!r}: expected KEY=VALUE")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def print_list() -> None:
    rows = []
    for row in OFFICIAL_CONFIGS:
        cfg = resolve_config(row)
        reasons = unsupported_reasons(cfg)
        shape = f"L={cfg['n_layer']} D={cfg['n_embd']} H={cfg['n_head']}"
        if reasons:
            rows.append((row["name"], "unsupported", shape, "; ".join(reasons)))
        else:
            rows.append((row["name"], f"{parameter_count(cfg) / 1e6:.1f}M", shape, describe_config(cfg)))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<{w2}}  {r[3]}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="convert_official_checkpoint.py",
        description=(
            "Convert a checkpoint saved by the official Samba trainer (microsoft/Samba, lit-gpt:\n"
            "a PyTorch .pth holding {'model': state_dict, ...}) into OUT_DIR/config.json and\n"
            "OUT_DIR/model.safetensors for this library.\n\n"
            "config.json: every lit-gpt Config field of the named configuration (official names,\n"
            "  trainer defaults filled in, padded_vocab_size computed) plus head_size and\n"
            "  tie_embeddings (= mamba or mamba_init).\n"
            "model.safetensors: the official tensor names (`module.` / `_orig_mod.` prefixes\n"
            "  stripped), without lm_head.weight when it is tied to transformer.wte.weight (the\n"
            "  two must then be identical).\n\n"
            "Before anything is written, every tensor the configuration needs is checked for\n"
            "presence and shape (errors name the tensor); unexpected tensors are reported and\n"
            "left out.  Only configurations made of Mamba, (sliding-window) attention, the LLaMA\n"
            "SwiGLU MLP and RMSNorm are accepted.  PyTorch is needed only to read the .pth."),
        epilog=(
            "examples:\n"
            "  %(prog)s out/iter-100000-ckpt.pth Samba_421M converted/samba421m\n"
            "  %(prog)s ckpt.pth Samba_1.3B out --dtype bf16 --override local_window=4096\n"
            "  %(prog)s --list\n"
            "  %(prog)s --self-test"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", metavar="CHECKPOINT.pth",
                        help="checkpoint written by the official trainer")
    parser.add_argument("config_name", nargs="?", metavar="CONFIG_NAME",
                        help="official configuration name from lit_gpt/config.py (see --list)")
    parser.add_argument("out_dir", nargs="?", metavar="OUT_DIR",
                        help="output directory (created if missing)")
    parser.add_argument("--dtype", choices=("keep", "f32", "bf16", "f16"), default="keep",
                        help="storage type of floating tensors (default: keep each tensor's type; "
                             "bf16 rounds to nearest even)")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="set a Config field before the derived ones are computed; VALUE is JSON "
                             "(e.g. local_window=4096, mamba_init=false, attn_layer_pos='\"[1,5]\"'); a "
                             "non-JSON VALUE is taken as a string. Repeatable. head_size and "
                             "tie_embeddings are derived and cannot be set")
    parser.add_argument("--keep-extra", action="store_true",
                        help="also write tensors the configuration does not use (default: warn and drop)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing config.json / model.safetensors in OUT_DIR")
    parser.add_argument("--list", action="store_true",
                        help="print the known configuration names (parameter count and layout, or why "
                             "a configuration is not supported) and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="convert a tiny random numpy state dict (2-layer Samba, n_embd 64) and "
                             "other layouts into a temporary directory, read the files back and check "
                             "names, shapes, offsets and errors; needs numpy only")
    args = parser.parse_args(argv)

    if args.list:
        print_list()
        return 0
    if args.self_test:
        return self_test()
    if not (args.checkpoint and args.config_name and args.out_dir):
        parser.error("CHECKPOINT.pth, CONFIG_NAME and OUT_DIR are required (or use --list / --self-test)")

    def warn(msg: str) -> None:
        print(f"warning: {msg}", file=sys.stderr)

    try:
        overrides = dict(parse_override(o) for o in args.override)
        cfg = build_config(args.config_name, overrides)
        if not args.checkpoint.endswith((".pth", ".pt", ".ckpt", ".bin")):
            warn(f"{args.checkpoint} does not look like a .pth file; trying torch.load anyway")
        state_dict = load_pth_state_dict(args.checkpoint, warn)
        summary = convert_state_dict(state_dict, cfg, args.out_dir, args.dtype,
                                     keep_extra=args.keep_extra, overwrite=args.force, warn=warn)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    dtypes = ", ".join(f"{n} {k}" for k, n in sorted(summary["dtypes"].items()))
    print(f"{cfg['name']}: {summary['tensors']} tensors ({dtypes}), {summary['parameters']:,} parameters, "
          f"{summary['bytes'] / 2**20:.1f} MiB -> {summary['path']} (+ {CONFIG_NAME})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
