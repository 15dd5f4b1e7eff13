#!/usr/bin/env python3
"""Generate a random Samba / Mamba test case in the golden format.

Writes OUT/config.json, OUT/model.safetensors, OUT/io.safetensors where io holds
    input_ids  int64   [B, T]
    logits     float32 [B, T, V_pad]
    hidden.{i} float32 [B, T, D]     residual stream after block i (before the final norm)
and, with --gen-new N (any architecture), generate_prompt [1, P], generate_ids [1, P+N]
(greedy) and generate_logits [1, P+N, V_pad] (full forward over generate_ids).

The outputs are computed in float64 by samba_ref.py from the weights exactly as stored
(after rounding to --dtype) and then stored as float32. Everything is deterministic in --seed.

Examples:
    python3 make_case.py --arch samba --n-layer 3 --window 3 --seq-len 40 --out /tmp/case
    python3 make_case.py --arch hf_mamba --n-embd 96 --time-step-rank 8 --vocab-size 200 \
        --batch 2 --gen-new 12 --out /tmp/mamba
"""

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import samba_ref as S  # noqa: E402

ARCHS = ("samba", "mamba_swa_mlp", "llama_swa", "transformer", "hf_mamba")


# ----------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------

def litgpt_config(a):
    """Official lit-gpt Config fields (same field set as the golden configs)."""
    head_size = a.n_embd // a.n_head
    return {
        "_mlp_class": "LLaMAMLP",
        "_norm_class": "FusedRMSNorm",
        "abl_mamba": False,
        "attn_layer_pos": a.attn_layer_pos,
        "bias": False,
        "block_size": 4096,
        "condense_ratio": a.condense_ratio,
        "full_per_layer": a.full_per_layer,
        "fused_add_norm": True,
        "gla_per_layer": -1,
        "head_size": head_size,
        "intermediate_size": a.intermediate_size,
        "local_window": -1 if a.arch == "transformer" else a.window,
        "mamba": False,
        "mamba_init": bool(a.tie),          # the official GPT ties lm_head to wte iff mamba_init
        "mamba_swa_mlp": a.arch == "mamba_swa_mlp",
        "mb_per_layer": a.mb_per_layer if a.arch == "samba" else -1,
        "mlp": True,
        "n_embd": a.n_embd,
        "n_head": a.n_head,
        "n_layer": a.n_layer,
        "n_query_groups": a.n_query_groups,
        "name": a.name,
        "nope": bool(a.nope),
        "norm_eps": 1e-05,
        "org": "test",
        "padded_vocab_size": S.find_multiple(a.vocab_size, a.padding_multiple),
        "padding_multiple": a.padding_multiple,
        "parallel_residual": False,
        "residual_in_fp32": True,
        "ret_per_layer": -1,
        "rms_norm": True,
        "rotary_percentage": a.rotary_percentage,
        "sc_attn": False,
        "shared_attention_norm": False,
        "tie_embeddings": bool(a.tie),
        "use_mega": False,
        "vocab_size": a.vocab_size,
    }


def hf_mamba_config(a):
    """HF MambaConfig fields (same field set as the golden hf_mamba config)."""
    return {
        "architectures": ["MambaForCausalLM"],
        "bos_token_id": 0,
        "conv_kernel": a.conv_kernel,
        "dtype": {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[a.dtype],
        "eos_token_id": 0,
        "expand": a.expand,
        "hidden_act": "silu",
        "hidden_size": a.n_embd,
        "initializer_range": 0.1,
        "intermediate_size": a.expand * a.n_embd,
        "layer_norm_epsilon": 1e-05,
        "model_type": "mamba",
        "num_hidden_layers": a.n_layer,
        "pad_token_id": 0,
        "rescale_prenorm_residual": False,
        "residual_in_fp32": True,
        "state_size": a.state_size,
        "tie_word_embeddings": bool(a.tie),
        "time_step_floor": 0.0001,
        "time_step_init_scheme": "random",
        "time_step_max": 0.1,
        "time_step_min": 0.001,
        "time_step_rank": a.time_step_rank if a.time_step_rank is not None else math.ceil(a.n_embd / 16),
        "time_step_scale": 1.0,
        "use_associative_scan": True,
        "use_bias": False,
        "use_cache": True,
        "use_conv_bias": True,
        "use_mambapy": False,
        "vocab_size": a.vocab_size,
    }


# ----------------------------------------------------------------------------------------
# Weight drawing. Scales: inputs of every projection are RMS-normalised (rms ~ 1), so
# in-projections use std ~ 1/sqrt(fan_in); each residual branch's output projection is then
# calibrated on a random probe so the branch adds rms ~ branch_gain * (embedding rms).
# Per-channel parameters (norm weights, A_log, D, conv bias, dt bias) are spread so that a
# permutation of channels / heads / groups changes the output.
# ----------------------------------------------------------------------------------------

def uni(rng, shape, std):
    """Uniform with the given standard deviation, shape `shape`."""
    a = std * math.sqrt(3.0)
    return rng.uniform(-a, a, size=shape)


def norm_weight(rng, D):
    return rng.uniform(0.6, 1.4, size=D)                     # [D]


def draw_mamba(rng, D, E, N, K, R):
    """Mamba v1 mixer weights (float64), out_proj uncalibrated."""
    dt = np.exp(rng.uniform(math.log(1e-3), math.log(1e-1), size=E))   # [E] target dt in [1e-3, 1e-1]
    x_proj = np.concatenate([
        uni(rng, (R, E), 1.0 / math.sqrt(E)),                # dt_low rows
        uni(rng, (2 * N, E), 2.0 / math.sqrt(E)),            # B, C rows (larger: SSM path shows)
    ])                                                       # [R+2N, E]
    return {
        "in_proj.weight": uni(rng, (2 * E, D), 1.0 / math.sqrt(D)),          # [2E, D]
        "conv1d.weight": rng.uniform(-0.5, 0.5, size=(E, 1, K)),             # [E, 1, K]
        "conv1d.bias": rng.uniform(-0.2, 0.2, size=E),                       # [E]
        "x_proj.weight": x_proj,                                             # [R+2N, E]
        "dt_proj.weight": uni(rng, (E, R), 1.0 / math.sqrt(3.0 * R)),        # [E, R]
        "dt_proj.bias": dt + np.log(-np.expm1(-dt)),                          # [E] softplus^-1(dt)
        "A_log": np.log(np.arange(1, N + 1, dtype=np.float64))[None, :]
                 + rng.uniform(-0.5, 0.5, size=(E, N)),                      # [E, N]
        "D": rng.uniform(0.5, 1.5, size=E),                                  # [E]
        "out_proj.weight": uni(rng, (D, E), 1.0 / math.sqrt(E)),             # [D, E]
    }


def draw_attn(rng, D, H, G, hs):
    return {
        "attn.weight": uni(rng, ((H + 2 * G) * hs, D), 1.3 / math.sqrt(D)),  # [(H+2G)*hs, D]
        "proj.weight": uni(rng, (D, H * hs), 1.0 / math.sqrt(H * hs)),       # [D, H*hs]
    }


def draw_mlp(rng, D, I):
    return {
        "w1.weight": uni(rng, (I, D), 1.0 / math.sqrt(D)),   # [I, D]
        "w2.weight": uni(rng, (I, D), 1.0 / math.sqrt(D)),   # [I, D]
        "w3.weight": uni(rng, (D, I), 1.0 / math.sqrt(I)),   # [D, I]
    }


def calibrate(fn, params, out_name, norm_w, rng, T, D, target_rms, eps):
    """Scale params[out_name] so fn(rms_norm(probe)) has rms target_rms.

    probe [1, T, D] is standard normal; fn(xn [1,T,D], params) -> [1,T,D]."""
    probe = rng.standard_normal((1, T, D))                   # [1, T, D]
    out = fn(S.rms_norm(probe, norm_w, eps), params)         # [1, T, D]
    rms = float(np.sqrt(np.mean(out * out)))
    params[out_name] = params[out_name] * (target_rms / max(rms, 1e-12))


def draw_weights(a, cfg):
    """Return {tensor name: float64 array} for the checkpoint of `cfg`."""
    rng = np.random.default_rng(a.seed)
    c = S.parse_config(cfg)
    D, eps = c["D"], c["eps"]
    tied = c["tie"]
    V = c["V_pad"] if c["family"] == "samba" else c["vocab_size"]
    # embedding rms s: tied heads give logits ~ s*sqrt(D) -> s = 2/sqrt(D); untied: s = 1
    s = 2.0 / math.sqrt(D) if tied else 1.0
    branch = a.branch_gain * s                                # rms added by each residual branch
    Tp = max(a.seq_len, 16)                                  # probe length for calibration
    W = {}

    def mamba_fn(xn, p):
        return S.mamba_mixer(xn, p, c)

    def attn_fn_for(i):
        rope = None if c["nope"] else S.rope_tables(Tp, c)
        return lambda xn, p: S.attention(xn, p, c, c["attn_window"][i], rope)

    def put(prefix, params):
        for k, v in params.items():
            W[prefix + k] = v

    if c["family"] == "hf_mamba":
        W["backbone.embeddings.weight"] = rng.standard_normal((V, D)) * s      # [V, D]
        for i in range(c["n_layer"]):
            nw = norm_weight(rng, D)
            p = draw_mamba(rng, D, c["E"], c["N"], c["K"], c["R"])
            calibrate(mamba_fn, p, "out_proj.weight", nw, rng, Tp, D, branch, eps)
            W[f"backbone.layers.{i}.norm.weight"] = nw
            put(f"backbone.layers.{i}.mixer.", p)
        W["backbone.norm_f.weight"] = norm_weight(rng, D)
        if not tied:
            W["lm_head.weight"] = uni(rng, (V, D), 1.0 / math.sqrt(D))         # [V, D]
        return W

    W["transformer.wte.weight"] = rng.standard_normal((V, D)) * s              # [V_pad, D]
    for i in range(c["n_layer"]):
        pre = f"transformer.h.{i}."
        if c["mamba_swa_mlp"]:
            nm, na = norm_weight(rng, D), norm_weight(rng, D)
            mp = draw_mamba(rng, D, c["E"], c["N"], c["K"], c["R"])
            calibrate(mamba_fn, mp, "out_proj.weight", nm, rng, Tp, D, branch, eps)
            ap = draw_attn(rng, D, c["n_head"], c["G"], c["hs"])
            calibrate(attn_fn_for(i), ap, "proj.weight", na, rng, Tp, D, branch, eps)
            W[pre + "norm_m.weight"], W[pre + "norm_attn.weight"] = nm, na
            put(pre + "mb.", mp)
            put(pre + "attn.", ap)
        else:
            n1 = norm_weight(rng, D)
            if c["use_mamba"][i]:
                mp = draw_mamba(rng, D, c["E"], c["N"], c["K"], c["R"])
                calibrate(mamba_fn, mp, "out_proj.weight", n1, rng, Tp, D, branch, eps)
            else:
                mp = draw_attn(rng, D, c["n_head"], c["G"], c["hs"])
                calibrate(attn_fn_for(i), mp, "proj.weight", n1, rng, Tp, D, branch, eps)
            W[pre + "norm_1.weight"] = n1
            put(pre + "attn.", mp)
        n2 = norm_weight(rng, D)
        mlp = draw_mlp(rng, D, c["I"])
        calibrate(S.swiglu, mlp, "w3.weight", n2, rng, Tp, D, branch, eps)
        W[pre + "norm_2.weight"] = n2
        put(pre + "mlp.swiglu.", mlp)
    W["transformer.ln_f.weight"] = norm_weight(rng, D)
    if not tied:
        W["lm_head.weight"] = uni(rng, (V, D), 1.0 / math.sqrt(D))             # [V_pad, D]
    return W


# ----------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output case directory (created)")
    ap.add_argument("--name", default=None, help="config name (default: basename of --out)")
    ap.add_argument("--arch", choices=ARCHS, default="samba")
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--n-head", type=int, default=None, help="default n_embd/head_size, or 4")
    ap.add_argument("--head-size", type=int, default=None, help="must equal n_embd/n_head (official proj is [D,D])")
    ap.add_argument("--n-query-groups", type=int, default=None, help="KV heads (default n_head = MHA)")
    ap.add_argument("--intermediate-size", type=int, default=None, help="SwiGLU width (default 2*n_embd)")
    ap.add_argument("--window", "--local-window", dest="window", type=int, default=8,
                    help="local_window (ignored for --arch transformer, which uses -1)")
    ap.add_argument("--vocab-size", type=int, default=256)
    ap.add_argument("--padding-multiple", type=int, default=64)
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tie", dest="tie", action="store_true", default=None, help="tie lm_head to the embedding")
    tie.add_argument("--no-tie", dest="tie", action="store_false",
                     help="separate lm_head (default for llama_swa / transformer)")
    ap.add_argument("--nope", action="store_true", help="no RoPE")
    ap.add_argument("--rotary-percentage", type=float, default=1.0)
    ap.add_argument("--condense-ratio", type=int, default=1)
    ap.add_argument("--full-per-layer", type=int, default=1000000)
    ap.add_argument("--mb-per-layer", type=int, default=2, help="samba: Mamba every k-th block")
    ap.add_argument("--attn-layer-pos", default=None, help='python list string, e.g. "[1, 2]" (overrides mb_per_layer)')
    ap.add_argument("--state-size", type=int, default=16, help="hf_mamba only")
    ap.add_argument("--conv-kernel", type=int, default=4, help="hf_mamba only")
    ap.add_argument("--expand", type=int, default=2, help="hf_mamba only")
    ap.add_argument("--time-step-rank", type=int, default=None, help="hf_mamba only (default ceil(D/16))")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=32)
    ap.add_argument("--gen-prompt", type=int, default=8, help="prompt length for --gen-new")
    ap.add_argument("--gen-new", type=int, default=0, help="also store greedy generate_* tensors")
    ap.add_argument("--dtype", choices=("f32", "bf16", "f16"), default="f32", help="stored weight dtype")
    ap.add_argument("--branch-gain", type=float, default=1.0,
                    help="rms of each residual branch relative to the embedding rms")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    if a.n_head is None:
        a.n_head = a.n_embd // a.head_size if a.head_size else 4
    if a.head_size is not None and a.head_size * a.n_head != a.n_embd:
        ap.error("head_size * n_head must equal n_embd")
    if a.n_query_groups is None:
        a.n_query_groups = a.n_head
    if a.intermediate_size is None:
        a.intermediate_size = 2 * a.n_embd
    if a.tie is None:
        a.tie = a.arch in ("samba", "mamba_swa_mlp", "hf_mamba")
    if a.name is None:
        a.name = os.path.basename(os.path.normpath(a.out))
    return a


def main(argv=None):
    a = parse_args(argv)
    cfg = hf_mamba_config(a) if a.arch == "hf_mamba" else litgpt_config(a)
    S.parse_config(cfg)  # refuse unsupported combinations early

    W = draw_weights(a, cfg)                                  # float64 master weights
    st_dtype = {"f32": "F32", "bf16": "BF16", "f16": "F16"}[a.dtype]
    np_dtype = {"f32": np.float32, "f16": np.float16}.get(a.dtype)
    tensors, dtypes = {}, {}
    for k, v in W.items():
        if st_dtype == "BF16":
            tensors[k], dtypes[k] = v.astype(np.float32), "BF16"
        else:
            tensors[k] = v.astype(np_dtype)
        if not np.all(np.isfinite(tensors[k].astype(np.float32))):
            raise ValueError(f"{k} not finite in {a.dtype}")

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1 if a.arch != "hf_mamba" else 2, sort_keys=True)
        f.write("\n")
    S.write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, dtypes, {"format": "pt"})

    # reference outputs from the weights exactly as stored (re-read from disk)
    model = S.load_case(a.out)
    rng = np.random.default_rng(a.seed + 1_000_003)
    vocab = model.c["vocab_size"]
    input_ids = rng.integers(0, vocab, size=(a.batch, a.seq_len), dtype=np.int64)   # [B, T]
    logits, hiddens = model.forward(input_ids)               # [B, T, V_pad], L x [B, T, D]
    io = {"input_ids": input_ids, "logits": logits.astype(np.float32)}
    for i, h in enumerate(hiddens):
        io[f"hidden.{i}"] = h.astype(np.float32)
    info = {}
    if a.gen_new > 0:
        prompt = rng.integers(0, vocab, size=(1, a.gen_prompt), dtype=np.int64)     # [1, P]
        ids = prompt
        margins = []
        for _ in range(a.gen_new):
            lg, _ = model.forward(ids)
            last = np.sort(lg[0, -1])                        # [V_pad]
            margins.append(float(last[-1] - last[-2]))       # top-1 minus top-2 logit
            ids = np.concatenate([ids, np.argmax(lg[:, -1], axis=-1)[:, None]], axis=1)
        gl, _ = model.forward(ids)                            # [1, P+N, V_pad]
        io.update(generate_prompt=prompt, generate_ids=ids, generate_logits=gl.astype(np.float32))
        info["min_greedy_margin"] = min(margins)
    S.write_safetensors(os.path.join(a.out, "io.safetensors"), io, metadata={"format": "pt"})

    # conditioning: how far a plain float32 evaluation lands from the float64 reference
    l32, _ = S.load_case(a.out, dtype=np.float32).forward(input_ids)
    info["fp32_rel_l2"] = S.rel_l2(l32, logits)
    info["logits_std"] = float(logits.std())
    info["hidden_rms"] = [round(float(np.sqrt(np.mean(h * h))), 3) for h in hiddens]
    size = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out))
    print(f"{a.name}: {size / 1024:.0f} KiB " + " ".join(f"{k}={v}" for k, v in info.items()))
    return info


if __name__ == "__main__":
    main()
