#!/usr/bin/env python3
"""GPU peer: the paper's grouped-query Transformer baseline as HF transformers runs it.

LlamaForCausalLM with random weights (seeded), bf16, attn_implementation="sdpa", on one CUDA GPU,
sized like our samba-1.3b preset (1,330,207,488 parameters, vocab 32000, tied embedding): hidden
2048, 16 query heads and 4 KV heads of 128, MLP 5632, and (unless --layers is given) the layer
count whose total is nearest that (28 layers: 1,328,138,240 parameters, -0.16%).

  prefill: batch 1, random prompt of T tokens, use_cache=False, logits of the last position only.
           One warm-up pass per length, then --reps passes timed with CUDA events.
  decode:  for each context C, a DynamicCache holding C positions of each of --batch sequences
           (built by running the model over random prompts in --chunk-token pieces; if that runs
           out of memory, filled with random K/V of the same shape instead, which costs a decode
           step the same time), --warmup untimed steps, then --steps timed single-token steps at
           batch B (greedy argmax fed back). Last line: the time to generate --gen-tokens tokens
           per sequence from an empty cache, by trapezoidal integration of the step time over
           the measured contexts (held flat below the smallest, extended linearly past the largest, and then
           flagged "extrapolated").
DynamicCache, not StaticCache: with a static cache HF's sdpa path must pass a mask, which makes it
repeat every KV head over its query heads in each step (4x the cache traffic); DynamicCache with
no padding passes no mask and uses SDPA's enable_gqa. DynamicCache's torch.cat per step is HF's own.

Run (JSON lines on stdout, progress on stderr; --out FILE also appends the JSON lines there):
  python3 bench/gpu/peer_transformer.py prefill --lengths 4096,8192,16384,32768,65536,131072 --reps 3
  python3 bench/gpu/peer_transformer.py decode --batch 16 --contexts 0,8192,16384,32768,49152,65536 --steps 32
"""
import argparse
import gc
import os
import sys
import time

os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM  # noqa: E402

from peer_common import emit, log  # noqa: E402

TARGET_PARAMS = 1_330_207_488  # samba-1.3b
PEER = "hf-llama-sdpa"
GIB = float(1 << 30)


def ints(s):
    return [int(x) for x in s.split(",") if x.strip()]


def count_params(layers, hidden, heads, kv_heads, head_dim, inter, vocab):
    per_layer = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim + 3 * hidden * inter + 2 * hidden
    return vocab * hidden + hidden + layers * per_layer, per_layer  # tied embedding, final norm


def build(args):
    heads = args.heads or args.hidden // args.head_dim
    if args.layers is None:
        fixed, per_layer = count_params(0, args.hidden, heads, args.kv_heads, args.head_dim, args.intermediate, args.vocab)
        args.layers = max(1, round((TARGET_PARAMS - fixed) / per_layer))
    cfg = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                      num_hidden_layers=args.layers, num_attention_heads=heads, num_key_value_heads=args.kv_heads,
                      head_dim=args.head_dim, max_position_embeddings=args.max_positions, tie_word_embeddings=True,
                      attn_implementation="sdpa", use_cache=False)
    torch.manual_seed(args.seed)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    model = model.to(torch.bfloat16).eval()
    torch.cuda.empty_cache()  # give back the float32 copy's memory
    impl = getattr(model.config, "_attn_implementation", None)
    if impl != "sdpa":
        sys.exit(f"attention implementation is {impl!r}, not 'sdpa'")
    params = sum(p.numel() for p in model.parameters())  # a tied weight is counted once
    expected = count_params(args.layers, args.hidden, heads, args.kv_heads, args.head_dim, args.intermediate, args.vocab)[0]
    base = {"peer": PEER, "params": params, "layers": args.layers, "hidden": args.hidden, "heads": heads,
            "kv_heads": args.kv_heads, "head_dim": args.head_dim, "intermediate": args.intermediate,
            "gpu": torch.cuda.get_device_name()}
    emit(dict(base, mode="config", params_formula=expected, params_vs_samba_1_3b=params / TARGET_PARAMS - 1,
              tied=params == expected, attn_implementation=impl, torch=torch.__version__,
              transformers=transformers.__version__), args.out)
    return model, base


def forward_last(model, ids, cache, keep_ok):
    """Logits of each sequence's last position, shape (B, vocab)."""
    kw = {"input_ids": ids, "use_cache": cache is not None}
    if cache is not None:
        kw["past_key_values"] = cache
    if keep_ok:
        return model(**kw, logits_to_keep=1).logits[:, -1]
    return model.lm_head(model.model(**kw).last_hidden_state[:, -1])


def logits_to_keep_ok(model, gen, vocab):
    ids = torch.randint(0, vocab, (1, 8), device="cuda", generator=gen)
    try:
        return model(input_ids=ids, use_cache=False, logits_to_keep=1).logits.shape[1] == 1
    except TypeError:
        log("logits_to_keep not accepted: slicing the last hidden row through model.model + lm_head")
        return False


def guarded(fn):
    """(fn(), False), or (None, True) when it runs out of GPU memory (the traceback is dropped on return)."""
    try:
        return fn(), False
    except RuntimeError as err:  # torch.cuda.OutOfMemoryError, or a library's failed allocation
        if not isinstance(err, torch.cuda.OutOfMemoryError) and "out of memory" not in str(err).lower():
            raise
    gc.collect()
    torch.cuda.empty_cache()
    return None, True


def cuda_seconds(fn, n):
    """Seconds that n calls of fn take on the GPU, by CUDA events."""
    torch.cuda.synchronize()
    ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ev0.record()
    for _ in range(n):
        fn()
    ev1.record()
    ev1.synchronize()
    return ev0.elapsed_time(ev1) / 1e3


def prefill(args, model, base, gen, keep_ok):
    forward_last(model, torch.randint(0, args.vocab, (1, 512), device="cuda", generator=gen), None, keep_ok)
    for t in ints(args.lengths):
        def run():
            ids = torch.randint(0, args.vocab, (1, t), device="cuda", generator=gen)
            log(f"prefill {t}: warm-up")
            forward_last(model, ids, None, keep_ok)
            torch.cuda.reset_peak_memory_stats()
            times = []
            for r in range(args.reps):
                times.append(cuda_seconds(lambda: forward_last(model, ids, None, keep_ok), 1))
                log(f"prefill {t}: rep {r + 1}/{args.reps} {times[-1]:.3f} s")
            sec = sum(times) / len(times)
            return {"seconds": sec, "seconds_min": min(times), "reps": len(times), "tokens_per_s": t / sec,
                    "max_mem_gib": torch.cuda.max_memory_allocated() / GIB}
        res, oom = guarded(run)
        emit(dict(base, mode="prefill", tokens=t, batch=1, **({"oom": True} if oom else res)), args.out)


def new_cache(model):
    try:
        return DynamicCache(config=model.config)
    except TypeError:  # releases before the config argument
        return DynamicCache()


def fill_cache(model, b, c, fill, args, gen, keep_ok):
    """A DynamicCache holding c positions of each of b sequences, and the next input token of each."""
    cache, tok = new_cache(model), torch.randint(0, args.vocab, (b, 1), device="cuda", generator=gen)
    if fill == "model":
        for s in range(0, c, args.chunk):
            ids = torch.randint(0, args.vocab, (b, min(args.chunk, c - s)), device="cuda", generator=gen)
            tok = forward_last(model, ids, cache, keep_ok).argmax(-1, keepdim=True)
    elif c > 0:  # random K/V of the shape the model caches: a decode step's cost does not depend on the values
        shape = (b, model.config.num_key_value_heads, c, args.head_dim)
        for layer in range(model.config.num_hidden_layers):
            cache.update(torch.randn(shape, device="cuda", dtype=torch.bfloat16),
                         torch.randn(shape, device="cuda", dtype=torch.bfloat16), layer)
    torch.cuda.synchronize()
    return cache, tok


def decode(args, model, base, gen, keep_ok):
    b, points = args.batch, []
    for c in ints(args.contexts):
        rec = dict(base, mode="decode", batch=b, context=c, steps=args.steps, cache="dynamic", fill=args.fill)
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        log(f"decode: context {c}: filling the cache ({args.fill})")
        filled, oom = guarded(lambda: fill_cache(model, b, c, args.fill, args, gen, keep_ok))
        if oom and args.fill == "model":  # no activations and no repeated KV heads this way
            log(f"decode: context {c}: out of memory filling through the model; filling with random K/V")
            rec["fill"] = "random-after-oom"
            filled, oom = guarded(lambda: fill_cache(model, b, c, "random", args, gen, keep_ok))
        if not oom:
            cache, tok = filled
            filled = None
            rec.update(fill_seconds=time.perf_counter() - t0, cached=int(cache.get_seq_length()))

            def step():
                tok.copy_(forward_last(model, tok, cache, keep_ok).argmax(-1, keepdim=True))

            def run():
                for _ in range(args.warmup):
                    step()
                return cuda_seconds(step, args.steps) / args.steps
            sec, oom = guarded(run)
            cache = tok = None
        if oom:
            rec["oom"] = True
        else:
            points.append((c, sec))
            rec.update(step_seconds=sec, tokens_per_s=b / sec, mean_context=c + args.warmup + (args.steps - 1) / 2,
                       max_mem_gib=torch.cuda.max_memory_allocated() / GIB)
            log(f"decode: context {c}: {sec * 1e3:.2f} ms/step, {b / sec:.0f} tokens/s")
        gc.collect()
        torch.cuda.empty_cache()
        emit(rec, args.out)
    n = args.gen_tokens
    est = dict(base, mode="decode-estimate", batch=b, generated_per_sequence=n, points=len(points))
    if len(points) >= 2:
        def f(x):  # piecewise linear through the points, flat below the first, extended linearly past the last
            i = 1
            while i < len(points) - 1 and points[i][0] < x:
                i += 1
            (c0, t0), (c1, t1) = points[i - 1], points[i]
            return t0 if x <= c0 else t0 + (t1 - t0) * (x - c0) / (c1 - c0)
        knots = sorted({0, n} | {c for c, _ in points if 0 < c < n})
        sec = sum((k1 - k0) * (f(k0) + f(k1)) / 2 for k0, k1 in zip(knots, knots[1:]))
        est.update(seconds=sec, tokens_per_s=b * n / sec, extrapolated=points[0][0] > 0 or points[-1][0] < n)
    else:
        est["error"] = "fewer than two measured contexts"
    emit(est, args.out)


def main():
    c = argparse.ArgumentParser(add_help=False)
    for flag, kind, default, text in [
            ("--layers", int, None, "layers (default: the count whose total is nearest 1,330,207,488 parameters; 28 at the default sizes)"),
            ("--hidden", int, 2048, "hidden size"), ("--heads", int, None, "query heads (default hidden / head-dim)"),
            ("--kv-heads", int, 4, "KV heads"), ("--head-dim", int, 128, "head size"),
            ("--intermediate", int, 5632, "MLP size"), ("--vocab", int, 32000, "vocabulary"),
            ("--max-positions", int, 262144, "max_position_embeddings"),
            ("--seed", int, 0, "seed of the weights and token ids"), ("--out", str, None, "also append JSON lines here")]:
        c.add_argument(flag, type=kind, default=default, help=text + (f" (default {default})" if default is not None else ""))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog="Run with --help after a mode for its flags.")
    sub = p.add_subparsers(dest="mode", required=True)
    pp = sub.add_parser("prefill", parents=[c], help="prompt processing at batch 1")
    pp.add_argument("--lengths", default="4096,8192,16384,32768,65536,131072", help="comma-separated prompt lengths")
    pp.add_argument("--reps", type=int, default=3, help="timed passes per length after one warm-up (default 3)")
    pd = sub.add_parser("decode", parents=[c], help="single-token steps at batch B over a KV cache of each context")
    pd.add_argument("--batch", type=int, default=16, help="sequences (default 16)")
    pd.add_argument("--contexts", default="0,8192,16384,32768,49152,65536", help="comma-separated cached lengths")
    pd.add_argument("--steps", type=int, default=32, help="timed steps per context (default 32)")
    pd.add_argument("--warmup", type=int, default=2, help="untimed steps before them (default 2)")
    pd.add_argument("--fill", choices=["model", "random"], default="model", help="build the cache by running the "
                    "model (default; random K/V where that runs out of memory) or with random K/V of its shape")
    pd.add_argument("--chunk", type=int, default=1024, help="prompt tokens per sequence per fill pass (default 1024)")
    pd.add_argument("--gen-tokens", type=int, default=65536, help="tokens per sequence in the estimate (default 65536)")
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    gen = torch.Generator(device="cuda")
    gen.manual_seed(args.seed)
    with torch.inference_mode():
        model, base = build(args)
        keep_ok = logits_to_keep_ok(model, gen, args.vocab)
        (prefill if args.mode == "prefill" else decode)(args, model, base, gen, keep_ok)


if __name__ == "__main__":
    main()
