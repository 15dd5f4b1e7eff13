#!/usr/bin/env python3
"""Heat maps and a table of passkey retrieval results (`samba passkey` JSON lines) for docs/.

    python3 tools/plot_passkey.py results.jsonl docs/passkey.png

Each input line is one `samba passkey` run (its last stdout line, as bench/run_passkey.sh collects
them); runs of several models may be mixed. For every model: a heat map of accuracy over context
length (columns) and the key's depth (rows, five bins of the filler), as in the Samba paper's
figure, and a markdown table of accuracy per context printed on stdout. Needs matplotlib.
"""
import json
import sys
from collections import defaultdict


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

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.6), squeeze=False)
    for ax, m in zip(axes[0], models):
        grid = [[float("nan")] * len(contexts) for _ in range(5)]
        for j, c in enumerate(contexts):
            for b in range(5):
                ok, n = cells.get((m, c, b), (0, 0))
                if n:
                    grid[b][j] = ok / n
        image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", origin="lower")
        ax.set_xticks(range(len(contexts)), [f"{c // 1024}K" if c >= 1024 else str(c) for c in contexts], rotation=45)
        ax.set_yticks(range(5), ["0-20%", "20-40%", "40-60%", "60-80%", "80-100%"])
        ax.set_xlabel("context (tokens)")
        ax.set_ylabel("depth of the key")
        ax.set_title(m)
        for b in range(5):
            for j in range(len(contexts)):
                if grid[b][j] == grid[b][j]:
                    ax.text(j, b, f"{grid[b][j]:.0%}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=axes[0].tolist(), label="accuracy")
    fig.savefig(sys.argv[2], dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
