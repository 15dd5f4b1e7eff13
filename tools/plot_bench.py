#!/usr/bin/env python3
"""Plot the CPU measurements of bench/run_cpu_suite.sh (JSON lines) for docs/performance.md.

    python3 tools/plot_bench.py bench/results/cpu.jsonl docs/performance_cpu.png

Left: the machine's roofline (measured read bandwidth and best SGEMM, from the same run) with the
achieved points: decode GEMV-bound steps (intensity = FLOP per weight byte) and prefill. Right:
tokens/s of samba and, when present in the file, llama.cpp on the mamba-1.4b shape.
Needs matplotlib.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BYTES_PER_WEIGHT = {"f32": 4, "bf16": 2, "int8": 1}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    by = {r["label"]: r for r in rows}
    cal = next(r for r in rows if "machine_read_bytes_per_s" in r)
    bw, peak = cal["machine_read_bytes_per_s"], cal["machine_sgemm_flops_per_s"]

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5))
    # Roofline: attainable FLOP/s = min(peak, intensity * bandwidth).
    xs = [2 ** (i / 4) for i in range(-12, 44)]
    ax.loglog(xs, [min(peak, x * bw) / 1e9 for x in xs], "k-", label=f"roofline: {bw / 1e9:.1f} GB/s read, "
              f"{peak / 1e9:.0f} GFLOP/s SGEMM ({cal['machine_sgemm_engine']})")
    for label, r in by.items():
        if "decode_weight_bytes_per_s" in r and r.get("decode_tokens_per_s", 0) > 0 and "decode" in label:
            # B sequences per step: 2 FLOP per weight per sequence, the weight read once.
            intensity = 2 * r.get("batch", 1) / BYTES_PER_WEIGHT[r["dtype"]]
            flops = r["decode_weight_bytes_per_s"] * intensity
            ax.plot(intensity, flops / 1e9, "o", label=f"{label}: {r['decode_weight_bytes_per_s'] / 1e9:.1f} GB/s")
        if "prefill" in label and r.get("prefill_flops_per_s", 0) > 0 and r["threads"] == cal["threads"]:
            intensity = 2 * r["prompt_tokens"] / BYTES_PER_WEIGHT[r["dtype"]]
            ax.plot(intensity, r["prefill_flops_per_s"] / 1e9, "s", label=f"{label}: {r['prefill_flops_per_s'] / 1e9:.0f} GFLOP/s")
    ax.set_xlabel("arithmetic intensity (FLOP per byte of weights)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"CPU roofline, {cal['threads']} threads")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.3)

    names, values, colors = [], [], []
    for label, key, color in [("samba-421m-decode-bf16", "decode_tokens_per_s", "C0"),
                              ("samba-421m-prefill-f32", "prefill_tokens_per_s", "C0"),
                              ("mamba-1.4b-prefill-f32", "prefill_tokens_per_s", "C1"),
                              ("mamba-1.4b-decode-bf16", "decode_tokens_per_s", "C1"),
                              ("mamba-1.4b-decode-int8", "decode_tokens_per_s", "C1")]:
        if label in by:
            names.append(f"samba {label}\n({key.split('_')[0]})")
            values.append(by[label][key])
            colors.append(color)
    for r in rows:
        if r["label"].startswith("llama.cpp"):
            kind = "prefill 512" if r["n_prompt"] else "decode"
            names.append(f"llama.cpp mamba-1.4b {r['model_type'].split()[-1]}\n({kind})")
            values.append(r["avg_ts"])
            colors.append("C3")
    bx.barh(range(len(values)), values, color=colors)
    bx.set_yticks(range(len(values)))
    bx.set_yticklabels(names, fontsize=7)
    for i, v in enumerate(values):
        bx.text(v, i, f" {v:.1f}", va="center", fontsize=7)
    bx.set_xlabel("tokens/s")
    bx.set_title("throughput (random weights, batch 1)")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print("wrote", sys.argv[2])


if __name__ == "__main__":
    main()
