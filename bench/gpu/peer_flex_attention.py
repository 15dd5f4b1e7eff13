#!/usr/bin/env python3
"""GPU peer: sliding-window causal attention by PyTorch FlexAttention, with SDPA full causal beside it.

Forward pass only, bf16, one CUDA GPU, random q/k/v (seeded). Default shape: samba-1.3b's attention
layer (batch 1, 18 query heads, 18 KV heads, head size 128, window 2048); --kv-heads below --heads
(a divisor of it) runs grouped-query attention (enable_gqa=True). Query i sees keys j with i - window < j <= i.

  flex-attention-swa: torch.nn.attention.flex_attention.flex_attention compiled with torch.compile
      (dynamic=False), block mask from create_block_mask (itself compiled), built per length outside
      the timed calls; reported apart: its first build (with compilation) and a second, which is used.
  sdpa-causal: torch.nn.functional.scaled_dot_product_attention(is_causal=True) under the flash
      backend (any backend if flash refuses the shape), full causal attention over the whole
      sequence; skipped above --sdpa-max.
Each (kernel, length): one first call (timed apart, includes compilation), --warmup calls, then --reps
calls timed with CUDA events. tflops = 4 * B * H * head_size * (keys seen, summed over queries) / s:
for the window, query i sees min(i + 1, window) keys; for full causal, i + 1.
--check compares flex against a naive masked softmax in float32 at T=512, window 64 (also against
windows 63 and 65, to show that the comparison can tell a window off by one) and exits.

Run (JSON lines on stdout, progress on stderr; --out FILE also appends the JSON lines there):
  python3 bench/gpu/peer_flex_attention.py --check
  python3 bench/gpu/peer_flex_attention.py --lengths 4096,8192,16384,32768,65536,131072 --reps 5
  python3 bench/gpu/peer_flex_attention.py --kv-heads 2 --lengths 4096,8192,16384,32768,65536,131072
"""
import argparse
import functools
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

from peer_common import emit, log  # noqa: E402

for knob in ("cache_size_limit", "recompile_limit"):  # one compilation per length, not a dynamic-shape one
    if hasattr(torch._dynamo.config, knob):
        setattr(torch._dynamo.config, knob, 64)
flex_compiled = torch.compile(flex_attention, dynamic=False)
block_mask_compiled = torch.compile(create_block_mask, dynamic=False)


@functools.lru_cache(maxsize=None)  # one mask_mod object per window, so compiled create_block_mask is reused
def window_mask(window):
    def mask_mod(b, h, q_idx, kv_idx):
        return (kv_idx <= q_idx) & (q_idx - kv_idx < window)
    return mask_mod


def keys_seen(t, window=None):
    """Sum over queries 0..t-1 of the keys each one sees (window None: full causal)."""
    if window is None or t <= window:
        return t * (t + 1) // 2
    return window * (window + 1) // 2 + (t - window) * window


def make_block_mask(t, window):
    return block_mask_compiled(window_mask(window), None, None, t, t, device="cuda")


def qkv(b, h, g, t, hs, gen):
    def r(heads):
        return torch.randn(b, heads, t, hs, device="cuda", dtype=torch.bfloat16, generator=gen)
    return r(h), r(g), r(g)


def timed(fn, warmup, reps):
    """(seconds of the first call, mean seconds of reps calls after warmup more)."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        fn()
    ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    ev0.record()
    for _ in range(reps):
        fn()
    ev1.record()
    ev1.synchronize()
    return first, ev0.elapsed_time(ev1) / 1e3 / reps


def guarded(fn):
    """fn(), or {"oom": true} when it runs out of GPU memory, or {"error": ...} when it fails otherwise."""
    try:
        return fn()
    except torch.cuda.OutOfMemoryError:
        res = {"oom": True}
    except Exception as err:  # a compilation or kernel-selection failure: report it, go on to the next one
        res = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
    torch.cuda.empty_cache()
    return res


def check(args, gen):
    t, w, b, h, g, hs = 512, 64, 1, args.heads, args.kv_heads, args.head_size
    q, k, v = qkv(b, h, g, t, hs, gen)
    out = flex_compiled(q, k, v, block_mask=make_block_mask(t, w), enable_gqa=g != h).float()
    kk, vv = (x.float().repeat_interleave(h // g, dim=1) for x in (k, v))  # query head i uses KV head i // (h/g)
    scores = q.float() @ kk.transpose(-1, -2) / math.sqrt(hs)
    i = torch.arange(t, device="cuda")[:, None]
    j = torch.arange(t, device="cuda")[None, :]

    def err(window):
        allowed = (j <= i) & (j > i - window)
        ref = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ vv
        return (out - ref).abs().max().item()
    e, e_lo, e_hi = err(w), err(w - 1), err(w + 1)
    ok = e < 2e-2 and min(e_lo, e_hi) > 4 * e
    emit({"peer": "flex-attention-swa", "mode": "check", "tokens": t, "window": w, "heads": h, "kv_heads": g,
          "head_size": hs, "max_abs_err": e, "max_abs_err_window_minus_1": e_lo, "max_abs_err_window_plus_1": e_hi,
          "ok": ok, "gpu": torch.cuda.get_device_name()}, args.out)
    return ok


def bench(args, gen):
    b, h, g, hs, w = args.batch, args.heads, args.kv_heads, args.head_size, args.window
    base = {"batch": b, "heads": h, "kv_heads": g, "head_size": hs, "gpu": torch.cuda.get_device_name(),
            "torch": torch.__version__}
    for t in [int(x) for x in args.lengths.split(",") if x.strip()]:
        def run_flex():
            q, k, v = qkv(b, h, g, t, hs, gen)
            t0 = time.perf_counter()
            make_block_mask(t, w)
            torch.cuda.synchronize()
            t1 = time.perf_counter()
            bm = make_block_mask(t, w)
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            first, sec = timed(lambda: flex_compiled(q, k, v, block_mask=bm, enable_gqa=g != h), args.warmup, args.reps)
            flops = 4 * b * h * hs * keys_seen(t, w)
            return {"seconds": sec, "tflops": flops / sec / 1e12, "flops": flops, "first_call_seconds": first,
                    "block_mask_first_seconds": t1 - t0, "block_mask_seconds": t2 - t1}
        log(f"flex {t}")
        emit(dict(base, peer="flex-attention-swa", tokens=t, window=w, **guarded(run_flex)), args.out)
        torch.cuda.empty_cache()
        if t > args.sdpa_max:
            continue

        def run_sdpa():
            q, k, v = qkv(b, h, g, t, hs, gen)
            kw = {"enable_gqa": True} if g != h else {}

            def call():
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, **kw)
            backend = "flash"
            try:
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    first, sec = timed(call, args.warmup, args.reps)
            except RuntimeError as err:
                if "out of memory" in str(err).lower():
                    raise
                log(f"sdpa {t}: flash backend refused ({str(err)[:120]}); letting SDPA choose")
                backend = "auto"
                first, sec = timed(call, args.warmup, args.reps)
            flops = 4 * b * h * hs * keys_seen(t)
            return {"seconds": sec, "tflops": flops / sec / 1e12, "flops": flops, "first_call_seconds": first,
                    "backend": backend}
        log(f"sdpa {t}")
        emit(dict(base, peer="sdpa-causal", tokens=t, window=None, **guarded(run_sdpa)), args.out)
        torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", default="4096,8192,16384,32768,65536,131072", help="comma-separated sequence lengths")
    p.add_argument("--batch", type=int, default=1, help="batch (default 1)")
    p.add_argument("--heads", type=int, default=18, help="query heads (default 18)")
    p.add_argument("--kv-heads", type=int, default=None, help="KV heads; fewer than --heads is GQA (default: --heads)")
    p.add_argument("--head-size", type=int, default=128, help="head size (default 128)")
    p.add_argument("--window", type=int, default=2048, help="keys each query sees, itself included (default 2048)")
    p.add_argument("--reps", type=int, default=5, help="timed calls per kernel and length (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls after the first (default 2)")
    p.add_argument("--sdpa-max", type=int, default=131072, help="longest length for sdpa-causal (default 131072)")
    p.add_argument("--seed", type=int, default=0, help="seed of q, k, v (default 0)")
    p.add_argument("--check", action="store_true", help="only check flex against a naive reference (T=512, window 64)")
    p.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    args.kv_heads = args.kv_heads or args.heads
    if args.heads % args.kv_heads:
        sys.exit("--heads must be a multiple of --kv-heads")
    gen = torch.Generator(device="cuda")
    gen.manual_seed(args.seed)
    with torch.no_grad():
        if args.check:
            sys.exit(0 if check(args, gen) else 1)
        bench(args, gen)


if __name__ == "__main__":
    main()
