#!/usr/bin/env python3
"""Plot bench/run_long_context.sh's JSON lines for docs/performance.md.

    python3 tools/plot_long_context.py bench/results/long-context.jsonl docs/long_context_cpu.png

Left: prompt processing time against context length (log-log) for samba-mini and its
full-attention twin transformer-mini, with slope-1 and slope-2 guides. Right: peak resident
memory of each run. Prints a markdown table and the time ratio at the largest length both reached.
Needs matplotlib.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(rows, preset):
    pts = sorted((r["prompt_tokens"], r) for r in rows if r["preset"] == preset)
    return [p for p, _ in pts], [r for _, r in pts]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5))
    for preset, style in (("samba-mini", "o-"), ("transformer-mini", "s-")):
        n, rs = series(rows, preset)
        if not n:
            continue
        ax.plot(n, [r["prefill_s"] for r in rs], style, label=preset)
        bx.plot(n, [r["peak_rss_bytes"] / 2**20 for r in rs], style, label=preset)
    n, rs = series(rows, "samba-mini")
    if n:  # guides through samba-mini's first point
        t0 = rs[0]["prefill_s"]
        ax.plot(n, [t0 * x / n[0] for x in n], ":", color="gray", label="linear (slope 1)")
        ax.plot(n, [t0 * (x / n[0]) ** 2 for x in n], "--", color="gray", label="quadratic (slope 2)")
    ax.set(xscale="log", yscale="log", xlabel="prompt tokens", ylabel="prompt processing time (s)",
           title="Prompt processing, 2 threads")
    bx.set(xscale="log", xlabel="prompt tokens", ylabel="peak RSS (MiB)", title="Peak memory of the run")
    for a in (ax, bx):
        a.grid(True, which="both", alpha=0.3)
        a.legend()
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)

    print("| prompt tokens | samba-mini s | tok/s | peak RSS MiB | transformer-mini s | tok/s | peak RSS MiB | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = {r["prompt_tokens"]: r for r in rows if r["preset"] == "transformer-mini"}
    for r in sorted((r for r in rows if r["preset"] == "samba-mini"), key=lambda r: r["prompt_tokens"]):
        b = base.get(r["prompt_tokens"])
        cells = [f"{r['prompt_tokens']:,}", f"{r['prefill_s']:.2f}", f"{r['prefill_tokens_per_s']:,.0f}",
                 f"{r['peak_rss_bytes'] / 2**20:.0f}"]
        cells += ([f"{b['prefill_s']:.2f}", f"{b['prefill_tokens_per_s']:,.0f}", f"{b['peak_rss_bytes'] / 2**20:.0f}",
                   f"{b['prefill_s'] / r['prefill_s']:.1f}x"] if b else ["-", "-", "-", "-"])
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
