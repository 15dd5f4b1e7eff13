#!/usr/bin/env python3
"""Sensitivity check: does a case catch typical implementation mistakes?

For each case directory, recompute the logits with a deliberately wrong variant of the
model (wrong window, QKV row layout, KV-group mapping, RoPE style, Mamba B/C or x/z order,
reversed conv taps, ...) and print the relative L2 distance to the stored logits. A useful
case gives a distance far above the 1e-4 tolerance for every mistake that applies to it.

    python3 mutation_check.py DIR [DIR ...]
"""

import json
import os
import sys

import numpy as np

import samba_ref as S


def attention_kv_mod(xn, p, c, window, rope):
    """Wrong GQA mapping: query head h uses KV group h % G (instead of h // q_per_kv)."""
    H, G = c["n_head"], c["G"]
    qpk = H // G
    # emulate by permuting the query heads inside the fused weight: in the correct layout
    # head h sits in group h // qpk; the mutant pairs it with group h % G.
    hs = c["hs"]
    W = p["attn.weight"].reshape(G, qpk + 2, hs, -1)         # [G, qpk+2, hs, D]
    q = W[:, :qpk].reshape(H, hs, -1)                        # [H, hs, D] head order h
    W2 = W.copy()
    for h in range(H):
        g_new, slot = h % G, h // G                          # mutant's group for head h
        W2[g_new, slot] = q[h]
    # output projection columns must follow the new head order (head h at g_new*qpk+slot)
    P = p["proj.weight"].reshape(p["proj.weight"].shape[0], H, hs)
    P2 = P.copy()
    for h in range(H):
        P2[:, (h % G) * qpk + h // G] = P[:, h]
    p2 = dict(p, **{"attn.weight": W2.reshape(p["attn.weight"].shape),
                    "proj.weight": P2.reshape(p["proj.weight"].shape)})
    return ORIG_ATTN(xn, p2, c, window, rope)


def attention_blocked_qkv(xn, p, c, window, rope):
    """Wrong fused layout: rows read as [all Q | all K | all V]."""
    H, G, hs = c["n_head"], c["G"], c["hs"]
    qpk = H // G
    Wf = p["attn.weight"]
    q = Wf[:H * hs].reshape(G, qpk, hs, -1)
    k = Wf[H * hs:(H + G) * hs].reshape(G, 1, hs, -1)
    v = Wf[(H + G) * hs:].reshape(G, 1, hs, -1)
    W2 = np.concatenate([q, k, v], axis=1).reshape(Wf.shape)
    return ORIG_ATTN(xn, dict(p, **{"attn.weight": W2}), c, window, rope)


def apply_rope_interleaved(x, cos, sin):
    """GPT-J style rotation of (even, odd) pairs instead of NeoX rotate-half."""
    rd = 2 * cos.shape[1]
    out = x.copy()
    x1, x2 = x[..., 0:rd:2], x[..., 1:rd:2]
    c_, s_ = cos[None, :, None, :], sin[None, :, None, :]
    out[..., 0:rd:2] = x1 * c_ - x2 * s_
    out[..., 1:rd:2] = x1 * s_ + x2 * c_
    return out


def mamba_with(fn):
    def mixer(u, p, c):
        return ORIG_MAMBA(u, fn(dict(p), c), c)
    return mixer


def swap_bc(p, c):
    R, N = c["R"], c["N"]
    w = p["x_proj.weight"].copy()
    w[R:R + N], w[R + N:] = p["x_proj.weight"][R + N:], p["x_proj.weight"][R:R + N]
    p["x_proj.weight"] = w
    return p


def swap_xz(p, c):
    E = c["E"]
    w = p["in_proj.weight"]
    p["in_proj.weight"] = np.concatenate([w[E:], w[:E]])
    return p


def flip_conv(p, c):
    p["conv1d.weight"] = p["conv1d.weight"][..., ::-1]
    return p


def no_dskip(p, c):
    p["D"] = np.zeros_like(p["D"])
    return p


ORIG_ATTN, ORIG_ROPE, ORIG_MAMBA = S.attention, S.apply_rope, S.mamba_mixer


def run(model, ids, patch=None, window_delta=None, all_local=None, rope_full=False, no_condense=False):
    c0 = dict(model.c)
    try:
        if patch:
            setattr(S, patch[0], patch[1])
        if window_delta is not None:
            model.c["attn_window"] = [None if w is None else max(1, w + window_delta) for w in c0["attn_window"]]
        if all_local is not None:
            w = int(model.cfg_window)
            model.c["attn_window"] = [w if all_local else None] * c0["n_layer"]
        if rope_full:
            model.c["rope_n_elem"] = model.c["hs"]
        if no_condense:
            model.c["condense_ratio"] = 1.0
        logits, _ = model.forward(ids)
    finally:
        S.attention, S.apply_rope, S.mamba_mixer = ORIG_ATTN, ORIG_ROPE, ORIG_MAMBA
        model.c = c0
    return logits


def check(case):
    model = S.load_case(case)
    cfg = json.load(open(os.path.join(case, "config.json")))
    model.cfg_window = cfg.get("local_window", -1)
    io = S.read_safetensors(os.path.join(case, "io.safetensors"))
    ids, ref = io["input_ids"], io["logits"]
    c = model.c
    has_attn = c["family"] == "samba" and (c["mamba_swa_mlp"] or not all(c["use_mamba"]))
    has_mamba = c["family"] == "hf_mamba" or c["mamba_swa_mlp"] or any(c.get("use_mamba", []))
    res = {"exact": S.rel_l2(run(model, ids), ref)}
    if has_attn:
        if any(w is not None for w in c["attn_window"]):
            res["window+1"] = S.rel_l2(run(model, ids, window_delta=+1), ref)
            if any(w is not None and w > 1 for w in c["attn_window"]):
                res["window-1"] = S.rel_l2(run(model, ids, window_delta=-1), ref)
        if len(set(c["attn_window"])) > 1 and model.cfg_window > 0:
            res["all_local"] = S.rel_l2(run(model, ids, all_local=True), ref)
        if c["G"] > 1:  # with one KV group the grouped and blocked layouts coincide
            res["qkv_blocked"] = S.rel_l2(run(model, ids, patch=("attention", attention_blocked_qkv)), ref)
        if 1 < c["G"] < c["n_head"]:
            res["kv_group_h%G"] = S.rel_l2(run(model, ids, patch=("attention", attention_kv_mod)), ref)
        if not c["nope"]:
            res["rope_interleaved"] = S.rel_l2(run(model, ids, patch=("apply_rope", apply_rope_interleaved)), ref)
            if c["rope_n_elem"] < c["hs"]:
                res["rope_full_head"] = S.rel_l2(run(model, ids, rope_full=True), ref)
            if c["condense_ratio"] != 1:
                res["no_condense"] = S.rel_l2(run(model, ids, no_condense=True), ref)
    if has_mamba:
        res["mamba_BC_swap"] = S.rel_l2(run(model, ids, patch=("mamba_mixer", mamba_with(swap_bc))), ref)
        res["mamba_xz_swap"] = S.rel_l2(run(model, ids, patch=("mamba_mixer", mamba_with(swap_xz))), ref)
        res["conv_flip"] = S.rel_l2(run(model, ids, patch=("mamba_mixer", mamba_with(flip_conv))), ref)
        res["no_D_skip"] = S.rel_l2(run(model, ids, patch=("mamba_mixer", mamba_with(no_dskip))), ref)
    if c["family"] == "samba" and c["V_pad"] != c["vocab_size"]:
        res["pad_logits_share"] = float(np.linalg.norm(ref[..., c["vocab_size"]:]) / np.linalg.norm(ref))
    return res


def main():
    for case in sys.argv[1:]:
        res = check(case)
        name = case.rstrip("/").split("/")[-1]
        print(f"{name:28s} " + " ".join(f"{k}={v:.1e}" for k, v in res.items()))


if __name__ == "__main__":
    main()
