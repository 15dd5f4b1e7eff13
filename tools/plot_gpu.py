#!/usr/bin/env python3
"""Plot the GPU results (samba bench --backend cuda and the PyTorch peers) for docs/performance.md.

    python3 tools/plot_gpu.py RESULTS.jsonl [MORE.jsonl ...] OUT.png
    python3 tools/plot_gpu.py bench/results/gpu-h100-2026-11-25.jsonl docs/performance_gpu.png

Left: prompt processing (tokens/s) against prompt length, samba-1.3b (bf16) against HF
LlamaForCausalLM with SDPA of the same parameter count. Right: decode tokens/s at batch 16
against context length for samba-1.3b, the project's own Transformer++ of the same shape and the
HF peer. The titles name the GPU the peers' lines record. Prints the markdown tables and the
ratios the issue asks for. Needs matplotlib.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def integrate_steps(points, total):
    """Seconds to generate `total` tokens per sequence, trapezoid over (context, step seconds),
    extended linearly past the last point."""
    pts = sorted(points)
    if pts[-1][0] < total:
        (c1, s1), (c2, s2) = pts[-2], pts[-1]
        pts.append((total, s2 + (s2 - s1) * (total - c2) / (c2 - c1)))
    seconds = 0.0
    for (c1, s1), (c2, s2) in zip(pts, pts[1:]):
        if c1 >= total:
            break
        seconds += (min(c2, total) - c1) * (s1 + s2) / 2
    return seconds, pts[-1][0] > max(c for c, _ in points)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = [json.loads(line) for path in sys.argv[1:-1] for line in open(path) if line.strip()]
    gpu = next((r["gpu"].removeprefix("NVIDIA ") for r in rows if r.get("gpu")), "GPU")  # the peers' lines name it
    ours_prefill = {r["prompt_tokens"]: r for r in rows if r.get("preset") == "samba-1.3b" and r.get("generate_tokens") == 0}
    peer_prefill = {r["tokens"]: r for r in rows if r.get("peer") == "hf-llama-sdpa" and r.get("mode") == "prefill"}
    decode = {}
    for r in rows:
        if r.get("batch") == 16 and r.get("decode_tokens_per_s"):
            decode.setdefault(r["preset"], []).append((r.get("context", 0), 16 / r["decode_tokens_per_s"]))
        if r.get("peer") == "hf-llama-sdpa" and r.get("mode") == "decode":
            decode.setdefault("HF Llama (peer)", []).append((r["context"], r["step_seconds"]))

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5))
    lengths = sorted(set(ours_prefill) & set(peer_prefill))
    ax.plot(lengths, [ours_prefill[t]["prefill_tokens_per_s"] for t in lengths], "o-", label="samba-1.3b, --backend cuda (bf16)")
    ax.plot(lengths, [peer_prefill[t]["tokens_per_s"] for t in lengths], "s-", label="HF Llama 1.33B, SDPA (bf16)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("prompt tokens / s")
    ax.set_title(f"Prompt processing, {gpu}")
    ax.legend()
    ax.grid(True, alpha=0.3)
    for name, style in (("samba-1.3b", "o-"), ("transformer-1.3b", "s-"), ("HF Llama (peer)", "^-")):
        if name in decode:
            pts = sorted(decode[name])
            bx.plot([c for c, _ in pts], [16 / s for _, s in pts], style, label=name)
    bx.set_xlabel("context (tokens already in each sequence)")
    bx.set_ylabel("generated tokens / s (16 sequences)")
    bx.set_title(f"Decode at batch 16, {gpu}")
    bx.legend()
    bx.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(sys.argv[-1], dpi=110)

    print("| prompt tokens | samba-1.3b tokens/s | HF Llama tokens/s | ratio |")
    print("|---:|---:|---:|---:|")
    for t in lengths:
        a, b = ours_prefill[t]["prefill_tokens_per_s"], peer_prefill[t]["tokens_per_s"]
        print(f"| {t} | {a:,.0f} | {b:,.0f} | {a / b:.2f}x |")
    print()
    print("| model | decode tokens/s at contexts | 16 x 65536 tokens, estimated s | extrapolated |")
    print("|---|---|---:|---|")
    for name, pts in decode.items():
        seconds, extrapolated = integrate_steps(pts, 65536)
        ctx = ", ".join(f"{c}: {16 / s:,.0f}" for c, s in sorted(pts))
        print(f"| {name} | {ctx} | {seconds:,.0f} | {'yes' if extrapolated else 'no'} |")


if __name__ == "__main__":
    main()
