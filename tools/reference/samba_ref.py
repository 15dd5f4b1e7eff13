#!/usr/bin/env python3
"""Independent numpy reference for Samba hybrid models and HF Mamba (float64 compute).

Reads a case directory (config.json + model.safetensors [+ io.safetensors]) in the format
described by /work/shared/SPEC.md and computes
    logits   [B, T, V_pad]
    hidden.i [B, T, D]   the residual stream after block i (before ln_f / norm_f)
for given input_ids [B, T].

Usage:
    python3 samba_ref.py CASE_DIR [CASE_DIR ...]        # compare with CASE_DIR/io.safetensors
    python3 samba_ref.py --bf16-rope CASE_DIR           # round cos/sin to bf16 (see NOTES.md)

Only numpy is needed. The safetensors reader/writer below is self-contained.
"""

import argparse
import ast
import json
import math
import os
import struct
import sys

import numpy as np

# ----------------------------------------------------------------------------------------
# safetensors I/O (format: u64 little-endian header length, JSON header, raw little-endian data)
# ----------------------------------------------------------------------------------------

_ST_TO_NP = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
    "BOOL": np.bool_,
}
_NP_TO_ST = {np.dtype(v).str: k for k, v in _ST_TO_NP.items()}


def bf16_bits_to_f32(bits):
    """uint16 array of bfloat16 bit patterns -> exact float32 values (same shape)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    """float32 array -> uint16 bfloat16 bit patterns, round-to-nearest-even (same shape)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def round_to_bf16(x):
    """Round any float array to the nearest bfloat16 value, returned as float32."""
    return bf16_bits_to_f32(f32_to_bf16_bits(np.asarray(x, dtype=np.float32)))


def read_safetensors(path, with_dtypes=False):
    """Return {name: np.ndarray}. BF16 tensors are widened exactly to float32.

    If with_dtypes, also return {name: safetensors dtype string}."""
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    tensors, dtypes = {}, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = blob[base + start:base + end]
        dt = info["dtype"]
        if dt == "BF16":
            arr = bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2"))
        elif dt in _ST_TO_NP:
            arr = np.frombuffer(raw, dtype=np.dtype(_ST_TO_NP[dt]).newbyteorder("<"))
        else:
            raise ValueError(f"{path}: unsupported safetensors dtype {dt} for {name}")
        tensors[name] = arr.reshape(info["shape"]).copy()
        dtypes[name] = dt
    return (tensors, dtypes) if with_dtypes else tensors


def write_safetensors(path, tensors, dtypes=None, metadata=None):
    """Write {name: array}. dtypes[name] may be 'BF16' (array is rounded RNE to bfloat16),
    otherwise the numpy dtype of the array decides (F32, F16, I64, ...)."""
    dtypes = dtypes or {}
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dt = dtypes.get(name)
        if dt == "BF16":
            data = f32_to_bf16_bits(arr).astype("<u2").tobytes()
        else:
            arr_le = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"))
            if arr_le.dtype.str not in _NP_TO_ST:
                raise ValueError(f"unsupported numpy dtype {arr.dtype} for {name}")
            dt = _NP_TO_ST[arr_le.dtype.str]
            data = arr_le.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)  # pad header so data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for c in chunks:
            f.write(c)


# ----------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------

def find_multiple(n, k):
    return n if n % k == 0 else n + k - (n % k)


def parse_config(cfg):
    """Normalise either config format into a dict the forward pass uses.

    Returns dict with 'family' in {'samba', 'hf_mamba'}. Raises NotImplementedError for
    features this reference does not implement."""
    if cfg.get("model_type") == "mamba":
        return _parse_hf_mamba(cfg)
    return _parse_litgpt(cfg)


def _parse_hf_mamba(cfg):
    D = int(cfg["hidden_size"])
    expand = int(cfg.get("expand", 2))
    E = int(cfg.get("intermediate_size") or expand * D)
    rank = cfg.get("time_step_rank", "auto")
    R = math.ceil(D / 16) if rank == "auto" else int(rank)
    act = cfg.get("hidden_act", "silu")
    if act not in ("silu", "swish"):
        raise NotImplementedError(f"hf mamba hidden_act={act}")
    return dict(
        family="hf_mamba",
        n_layer=int(cfg["num_hidden_layers"]), D=D, E=E, N=int(cfg.get("state_size", 16)),
        K=int(cfg.get("conv_kernel", 4)), R=R,
        eps=float(cfg.get("layer_norm_epsilon", 1e-5)),
        vocab_size=int(cfg["vocab_size"]),
        tie=bool(cfg.get("tie_word_embeddings", True)),
        use_bias=bool(cfg.get("use_bias", False)),
        use_conv_bias=bool(cfg.get("use_conv_bias", True)),
    )


def _parse_litgpt(cfg):
    def refuse(cond, what):
        if cond:
            raise NotImplementedError(f"samba_ref does not implement {what}")

    refuse(cfg.get("parallel_residual", False), "parallel_residual")
    refuse(cfg.get("shared_attention_norm", False), "shared_attention_norm")
    refuse(cfg.get("sc_attn", False), "sc_attn (short-conv attention)")
    refuse(cfg.get("use_mega", False), "use_mega")
    refuse(cfg.get("abl_mamba", False), "abl_mamba")
    refuse(cfg.get("mamba", False), "mamba=true (lit-gpt pure Mamba MBlock model)")
    refuse(cfg.get("bias", False), "bias=true")
    refuse(not cfg.get("rms_norm", True), "rms_norm=false (LayerNorm)")
    refuse(cfg.get("_norm_class", "RMSNorm") not in ("RMSNorm", "FusedRMSNorm"),
           f"_norm_class={cfg.get('_norm_class')}")
    refuse(cfg.get("_mlp_class", "LLaMAMLP") != "LLaMAMLP", f"_mlp_class={cfg.get('_mlp_class')}")

    n_layer, D, n_head = int(cfg["n_layer"]), int(cfg["n_embd"]), int(cfg["n_head"])
    G = int(cfg.get("n_query_groups") or n_head)
    hs = int(cfg.get("head_size") or D // n_head)
    # the official Config.head_size is a property n_embd // n_head and `proj` is Linear(D, D)
    refuse(hs * n_head != D, "head_size * n_head != n_embd (official proj is [D, D])")
    refuse(n_head % G != 0, "n_head not divisible by n_query_groups")
    vocab = int(cfg["vocab_size"])
    V_pad = cfg.get("padded_vocab_size") or find_multiple(vocab, int(cfg.get("padding_multiple", 512)))

    # which blocks get Mamba: attn_layer_pos (a python-list string) overrides mb_per_layer
    attn_pos = cfg.get("attn_layer_pos")
    mb = int(cfg.get("mb_per_layer", -1))
    if attn_pos is not None:
        attn_set = set(ast.literal_eval(attn_pos) if isinstance(attn_pos, str) else attn_pos)
        use_mamba = [i not in attn_set for i in range(n_layer)]
        # (retnet / gla are disabled in the official code when attn_layer_pos is given)
    else:
        use_mamba = [(i % mb == 0) if mb > 0 else False for i in range(n_layer)]
        refuse(int(cfg.get("ret_per_layer", -1)) > 0, "ret_per_layer (RetNet)")
        refuse(int(cfg.get("gla_per_layer", -1)) > 0, "gla_per_layer (GLA)")
    swa_mlp = bool(cfg.get("mamba_swa_mlp", False))
    if swa_mlp:
        use_mamba = [False] * n_layer  # each block has its own Mamba + SWA + MLP

    fpl = int(cfg.get("full_per_layer", 1000000))
    window = int(cfg.get("local_window", -1))
    # CausalSelfAttention.local = layer_idx % full_per_layer < full_per_layer - 1 ;
    # a local layer uses flash window (w-1, 0) only if local_window > -1.
    attn_window = []
    for i in range(n_layer):
        local = (i % fpl) < (fpl - 1)
        attn_window.append(window if (local and window > 0) else None)  # None = full causal
    refuse(window == 0 and any((i % fpl) < (fpl - 1) for i in range(n_layer)),
           "local_window=0 (flash-attn would treat a left window of -1 as unlimited)")

    n_elem = int(float(cfg.get("rotary_percentage", 0.25)) * hs)
    return dict(
        family="samba",
        n_layer=n_layer, D=D, n_head=n_head, G=G, hs=hs,
        I=int(cfg["intermediate_size"]), eps=float(cfg.get("norm_eps", 1e-5)),
        vocab_size=vocab, V_pad=int(V_pad),
        tie=bool(cfg.get("tie_embeddings", cfg.get("mamba_init", False))),
        use_mamba=use_mamba, mamba_swa_mlp=swa_mlp, mlp=bool(cfg.get("mlp", True)),
        attn_window=attn_window, nope=bool(cfg.get("nope", False)),
        rope_n_elem=n_elem, condense_ratio=float(cfg.get("condense_ratio", 1)),
        # Mamba inside Samba uses the Mamba defaults of lit_gpt/mamba_simple.py
        E=2 * D, N=16, K=4, R=math.ceil(D / 16),
        use_bias=False, use_conv_bias=True,
    )


# ----------------------------------------------------------------------------------------
# Building blocks (compute dtype follows the inputs: float64 for the reference)
# ----------------------------------------------------------------------------------------

def silu(x):
    return x / (1.0 + np.exp(-x))


def softplus(v):
    # torch semantics: v for v > 20 else log1p(exp(v))
    return np.where(v > 20.0, v, np.log1p(np.exp(np.minimum(v, 20.0))))


def rms_norm(x, w, eps):
    """x [..., D], w [D] -> [..., D]"""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def mamba_mixer(u, p, c):
    """Mamba v1 mixer. u [B, T, D] -> [B, T, D]. p: dict of weights (compute dtype)."""
    B_, T, _ = u.shape
    E, N, K, R = c["E"], c["N"], c["K"], c["R"]
    xz = u @ p["in_proj.weight"].T                          # [B, T, 2E]
    if "in_proj.bias" in p:
        xz = xz + p["in_proj.bias"]
    x, z = xz[..., :E], xz[..., E:]                         # [B, T, E] each: x first, then z
    # causal depthwise conv: out[t] = bias + sum_k W[e,0,k] * x[t-K+1+k] (zero left pad)
    w = p["conv1d.weight"][:, 0, :]                         # [E, K]
    xpad = np.concatenate([np.zeros((B_, K - 1, E), u.dtype), x], axis=1)  # [B, T+K-1, E]
    conv = np.zeros((B_, T, E), u.dtype)                    # [B, T, E]
    for k in range(K):
        conv += xpad[:, k:k + T, :] * w[:, k]
    if "conv1d.bias" in p:
        conv += p["conv1d.bias"]
    x = silu(conv)                                          # [B, T, E]
    x_dbl = x @ p["x_proj.weight"].T                        # [B, T, R+2N]
    dt_low, Bm, Cm = x_dbl[..., :R], x_dbl[..., R:R + N], x_dbl[..., R + N:R + 2 * N]
    dt = softplus(dt_low @ p["dt_proj.weight"].T + p["dt_proj.bias"])  # [B, T, E]
    A = -np.exp(p["A_log"])                                 # [E, N]
    h = np.zeros((B_, E, N), u.dtype)                       # [B, E, N] ssm state
    y = np.zeros((B_, T, E), u.dtype)                       # [B, T, E]
    for t in range(T):
        dA = np.exp(dt[:, t, :, None] * A)                  # [B, E, N]
        dBx = dt[:, t, :, None] * Bm[:, t, None, :] * x[:, t, :, None]  # [B, E, N]
        h = dA * h + dBx
        y[:, t] = np.einsum("ben,bn->be", h, Cm[:, t])       # [B, E]
    y = y + p["D"] * x
    y = y * silu(z)
    out = y @ p["out_proj.weight"].T                        # [B, T, D]
    if "out_proj.bias" in p:
        out = out + p["out_proj.bias"]
    return out


def rope_tables(T, c, bf16_cache=False):
    """cos, sin [T, rd/2] for positions 0..T-1 divided by condense_ratio."""
    n_elem = c["rope_n_elem"]
    theta = 1.0 / (10000.0 ** (np.arange(0, n_elem, 2, dtype=np.float64) / n_elem))  # [rd/2]
    pos = np.arange(T, dtype=np.float64) / c["condense_ratio"]                       # [T]
    ang = np.outer(pos, theta)                                                       # [T, rd/2]
    cos, sin = np.cos(ang), np.sin(ang)
    if bf16_cache:  # what lit_gpt's build_rope_cache(dtype=torch.bfloat16) would do
        cos, sin = round_to_bf16(cos).astype(np.float64), round_to_bf16(sin).astype(np.float64)
    return cos, sin


def apply_rope(x, cos, sin):
    """NeoX rotate-half on the first rd dims. x [B, T, H, hs]; cos/sin [T, rd/2]."""
    half = cos.shape[1]
    rd = 2 * half
    x1, x2 = x[..., :half], x[..., half:rd]                 # [B, T, H, rd/2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    out = x.copy()
    out[..., :half] = x1 * c - x2 * s
    out[..., half:rd] = x1 * s + x2 * c
    return out


def attention(xn, p, c, window, rope):
    """Causal (sliding-window) self-attention. xn [B, T, D] -> [B, T, D]."""
    B_, T, _ = xn.shape
    H, G, hs = c["n_head"], c["G"], c["hs"]
    qpk = H // G
    qkv = xn @ p["attn.weight"].T                           # [B, T, (H+2G)*hs]
    qkv = qkv.reshape(B_, T, G, qpk + 2, hs)                # rows per group: q_0..q_{qpk-1}, k, v
    q = qkv[:, :, :, :qpk, :].reshape(B_, T, H, hs)         # head h = g*qpk + i
    k = qkv[:, :, :, qpk, :]                                # [B, T, G, hs]
    v = qkv[:, :, :, qpk + 1, :]                            # [B, T, G, hs]
    if rope is not None:
        q = apply_rope(q, *rope)
        k = apply_rope(k, *rope)
    # mask[t, j] allowed iff j <= t and (window is None or j > t - window)
    t_idx = np.arange(T)[:, None]
    j_idx = np.arange(T)[None, :]
    allowed = j_idx <= t_idx
    if window is not None:
        allowed &= j_idx > t_idx - window                   # w keys, itself included
    y = np.zeros((B_, T, H, hs), xn.dtype)                  # [B, T, H, hs]
    scale = xn.dtype.type(1.0 / math.sqrt(hs))
    for h in range(H):
        g = h // qpk
        s = np.einsum("btd,bjd->btj", q[:, :, h], k[:, :, g]) * scale  # [B, T, T]
        s = np.where(allowed, s, -np.inf)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        a = e / e.sum(axis=-1, keepdims=True)               # [B, T, T]
        y[:, :, h] = np.einsum("btj,bjd->btd", a, v[:, :, g])
    return y.reshape(B_, T, H * hs) @ p["proj.weight"].T    # [B, T, D]


def swiglu(xn, p):
    """xn [B, T, D] -> [B, T, D]: w3(silu(w1 x) * (w2 x))."""
    return (silu(xn @ p["w1.weight"].T) * (xn @ p["w2.weight"].T)) @ p["w3.weight"].T


# ----------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------

def _sub(weights, prefix, dtype=np.float64):
    """{name[len(prefix):]: array in the compute dtype} for names starting with prefix."""
    return {k[len(prefix):]: v.astype(dtype) for k, v in weights.items() if k.startswith(prefix)}


def _need(sub, names, where):
    for n in names:
        if n not in sub:
            raise KeyError(f"missing tensor {where}{n}")


MAMBA_NAMES = ["in_proj.weight", "conv1d.weight", "x_proj.weight", "dt_proj.weight",
               "dt_proj.bias", "A_log", "D", "out_proj.weight"]


def _check_mamba_shapes(p, c, where):
    _need(p, MAMBA_NAMES, where)
    E, N, K, R, D = c["E"], c["N"], c["K"], c["R"], c["D"]
    exp = {"in_proj.weight": (2 * E, D), "conv1d.weight": (E, 1, K), "x_proj.weight": (R + 2 * N, E),
           "dt_proj.weight": (E, R), "dt_proj.bias": (E,), "A_log": (E, N), "D": (E,),
           "out_proj.weight": (D, E)}
    for n, s in exp.items():
        if tuple(p[n].shape) != s:
            raise ValueError(f"{where}{n}: shape {p[n].shape}, expected {s}")


class Model:
    """Holds config + weights; forward(input_ids) -> (logits, hiddens)."""

    def __init__(self, cfg_dict, weights, bf16_rope=False, dtype=np.float64):
        """dtype: compute dtype. float64 is the reference; float32 is only used to measure how
        well-conditioned a case is (what error an fp32 implementation should expect)."""
        self.c = parse_config(cfg_dict)
        self.w = weights
        self.bf16_rope = bf16_rope
        self.dtype = dt = np.dtype(dtype)
        c = self.c
        if c["family"] == "hf_mamba":
            self.wte = weights["backbone.embeddings.weight"].astype(dt)   # [V, D]
            self.norm_f = weights["backbone.norm_f.weight"].astype(dt)     # [D]
            self.layers = []
            for i in range(c["n_layer"]):
                p = _sub(weights, f"backbone.layers.{i}.mixer.", dt)
                _check_mamba_shapes(p, c, f"backbone.layers.{i}.mixer.")
                norm = weights[f"backbone.layers.{i}.norm.weight"].astype(dt)
                self.layers.append((norm, p))
        else:
            self.wte = weights["transformer.wte.weight"].astype(dt)      # [V_pad, D]
            self.norm_f = weights["transformer.ln_f.weight"].astype(dt)  # [D]
            if self.wte.shape != (c["V_pad"], c["D"]):
                raise ValueError(f"wte shape {self.wte.shape} != ({c['V_pad']}, {c['D']})")
        if c["tie"]:
            self.lm_head = self.wte
        else:
            self.lm_head = weights["lm_head.weight"].astype(dt)          # [V_pad, D]

    def forward(self, input_ids):
        """input_ids [B, T] int -> logits [B, T, V_pad] float64, list of hidden [B, T, D]."""
        c = self.c
        x = self.wte[np.asarray(input_ids)]                 # [B, T, D]
        T = x.shape[1]
        hiddens = []
        if c["family"] == "hf_mamba":
            for norm, p in self.layers:
                x = x + mamba_mixer(rms_norm(x, norm, c["eps"]), p, c)
                hiddens.append(x.copy())
        else:
            rope = None if c["nope"] else tuple(a.astype(self.dtype) for a in rope_tables(T, c, self.bf16_rope))
            W, dt = self.w, self.dtype
            for i in range(c["n_layer"]):
                pre = f"transformer.h.{i}."
                g = lambda n: W[pre + n].astype(dt)
                if c["mamba_swa_mlp"]:
                    mp = _sub(W, pre + "mb.", dt)
                    _check_mamba_shapes(mp, c, pre + "mb.")
                    x = x + mamba_mixer(rms_norm(x, g("norm_m.weight"), c["eps"]), mp, c)
                    ap = _sub(W, pre + "attn.", dt)
                    x = x + attention(rms_norm(x, g("norm_attn.weight"), c["eps"]), ap, c,
                                      c["attn_window"][i], rope)
                else:
                    xn = rms_norm(x, g("norm_1.weight"), c["eps"])
                    sub = _sub(W, pre + "attn.", dt)
                    if c["use_mamba"][i]:
                        _check_mamba_shapes(sub, c, pre + "attn.")
                        x = x + mamba_mixer(xn, sub, c)
                    else:
                        _need(sub, ["attn.weight", "proj.weight"], pre + "attn.")
                        x = x + attention(xn, sub, c, c["attn_window"][i], rope)
                if c["mlp"]:
                    x = x + swiglu(rms_norm(x, g("norm_2.weight"), c["eps"]), _sub(W, pre + "mlp.swiglu.", dt))
                hiddens.append(x.copy())
        logits = rms_norm(x, self.norm_f, c["eps"]) @ self.lm_head.T   # [B, T, V_pad]
        return logits, hiddens

    def greedy_generate(self, prompt, n_new):
        """prompt [B, T0] -> ids [B, T0+n_new] by argmax (full recompute each step)."""
        ids = np.asarray(prompt, dtype=np.int64)
        for _ in range(n_new):
            logits, _ = self.forward(ids)
            nxt = np.argmax(logits[:, -1, :], axis=-1)      # [B]
            ids = np.concatenate([ids, nxt[:, None]], axis=1)
        return ids


def load_case(case_dir, bf16_rope=False, dtype=np.float64):
    with open(os.path.join(case_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = read_safetensors(os.path.join(case_dir, "model.safetensors"))
    return Model(cfg, weights, bf16_rope=bf16_rope, dtype=dtype)


def rel_l2(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def verify_case(case_dir, tol=1e-5, bf16_rope=False, verbose=True):
    """Compare against case_dir/io.safetensors. Returns (ok, {name: rel_l2})."""
    model = load_case(case_dir, bf16_rope=bf16_rope)
    io = read_safetensors(os.path.join(case_dir, "io.safetensors"))
    logits, hiddens = model.forward(io["input_ids"])
    res = {"logits": rel_l2(logits, io["logits"])}
    for i, h in enumerate(hiddens):
        if f"hidden.{i}" in io:
            res[f"hidden.{i}"] = rel_l2(h, io[f"hidden.{i}"])
    if "generate_prompt" in io:
        gp, gi = io["generate_prompt"], io["generate_ids"]
        gen = model.greedy_generate(gp, gi.shape[1] - gp.shape[1])
        res["generate_ids_mismatches"] = int(np.sum(gen != gi))
        gl, _ = model.forward(gi)
        res["generate_logits"] = rel_l2(gl, io["generate_logits"])
    ok = all((v == 0) if k.endswith("mismatches") else (v <= tol) for k, v in res.items())
    if verbose:
        name = os.path.basename(os.path.normpath(case_dir))
        print(f"{name:24s} {'OK ' if ok else 'FAIL'} " +
              " ".join(f"{k}={v:.3e}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))
    return ok, res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="+", help="case directories (config.json, model.safetensors, io.safetensors)")
    ap.add_argument("--tol", type=float, default=1e-5, help="max relative L2 error (default 1e-5)")
    ap.add_argument("--bf16-rope", action="store_true", help="round RoPE cos/sin to bfloat16")
    a = ap.parse_args()
    all_ok = True
    for d in a.cases:
        ok, _ = verify_case(d, a.tol, a.bf16_rope)
        all_ok &= ok
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
