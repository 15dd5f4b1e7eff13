#!/usr/bin/env python3
"""Heat maps and a table of passkey retrieval results (`samba passkey` JSON lines) for docs/.

    python3 tools/plot_passkey.py results.jsonl docs/passkey.png

Each input line is one `samba passkey` run (its last stdout line, as bench/run_passkey.sh collects
them); runs of several models may be mixed. For every model: a heat map of accuracy over context
length (columns) and the key's depth (rows, five bins of the filler), as in the Samba paper's
figure, and markdown tables on stdout: accuracy per context, and each run's speed, time and peak
RSS. Needs matplotlib.
"""
import json
import sys
from collections import defaultdict


def context_label(tokens):
    """1M, 256K, 512: the context as the paper's figures write it."""
    if tokens >= 1 << 20 and tokens % (1 << 20) == 0:
        return f"{tokens >> 20}M"
    return f"{tokens // 1024}K" if tokens >= 1024 else str(tokens)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    cells = defaultdict(lambda: [0, 0])  # (model, context, depth bin) -> [correct, trials]
    totals = defaultdict(lambda: [0, 0])  # (model, context)
    for run in runs:
        for trial in run["per_trial"]:
            depth_bin = min(4, int(trial["depth"] * 5))
            for table, key in ((cells, (run["model"], run["context"], depth_bin)), (totals, (run["model"], run["context"]))):
                table[key][0] += trial["correct"]
                table[key][1] += 1
    models = sorted({m for m, _ in totals})
    contexts = sorted({c for _, c in totals})

    print("| model | " + " | ".join(f"{c:,}" for c in contexts) + " |")
    print("|---|" + "---:|" * len(contexts))
    for m in models:
        row = []
        for c in contexts:
            ok, n = totals.get((m, c), (0, 0))
            row.append(f"{ok}/{n} ({100 * ok / n:.0f}%)" if n else "")
        print(f"| {m} | " + " | ".join(row) + " |")

    print("\n| model | context | trials | correct | tokens/s | seconds | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in sorted(runs, key=lambda r: (r["model"], r["context"])):
        print(f"| {run['model']} | {run['context']:,} | {run['trials']} | {run['correct']} | {run['tokens_per_s']:,.0f} | "
              f"{run['seconds']:,.1f} | {run['peak_rss_bytes'] / 1e6:.1f} |")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 3.8), squeeze=False)
    fig.subplots_adjust(wspace=0.25)
    for ax, m in zip(axes[0], models):
        grid = [[float("nan")] * len(contexts) for _ in range(5)]
        for j, c in enumerate(contexts):
            for b in range(5):
                ok, n = cells.get((m, c, b), (0, 0))
                if n:
                    grid[b][j] = ok / n
        image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", origin="lower")
        ax.set_xticks(range(len(contexts)), [context_label(c) for c in contexts], rotation=45)
        ax.set_yticks(range(5), ["0-20%", "20-40%", "40-60%", "60-80%", "80-100%"])
        ax.set_xlabel("context (tokens)")
        if ax is axes[0][0]:
            ax.set_ylabel("depth of the key")
        ax.set_title(m)
        for b in range(5):
            for j in range(len(contexts)):
                if grid[b][j] == grid[b][j]:
                    ax.text(j, b, f"{grid[b][j]:.0%}", ha="center", va="center", fontsize=6.5)
    fig.colorbar(image, ax=axes[0].tolist(), label="accuracy")
    fig.savefig(sys.argv[2], dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
