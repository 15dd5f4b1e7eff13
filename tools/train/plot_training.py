#!/usr/bin/env python3
"""The loss curve of a training run, or of several stages run one after another (--init), as a PNG.

    python3 tools/train/plot_training.py OUT.png TITLE STAGE1.jsonl [STAGE2.jsonl ...]

Each log is a train_log.jsonl of tools/train/train_passkey.py (one JSON object per step, or per
logged step). Stages are drawn end to end on one step axis, with a line where each new one starts.
Needs matplotlib.
"""
import json
import sys


def plot_losses(logs, png, title):
    """Draws loss and answer loss of the runs in `logs` (paths), stage after stage, into `png`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    offset, steps, loss, answer, starts = 0, [], [], [], []
    for path in logs:
        rows = [json.loads(line) for line in open(path) if line.strip()]
        starts.append(offset)
        steps += [offset + r["step"] for r in rows]
        loss += [r["loss"] for r in rows]
        answer += [r["answer_loss"] for r in rows]
        offset += rows[-1]["step"]
    ax.plot(steps, loss, lw=0.8, label="loss (text + answer)")
    ax.plot(steps, answer, lw=0.8, label="answer tokens")
    for i, start in enumerate(starts[1:], start=2):
        ax.axvline(start, color="grey", lw=0.6, ls="--")
        ax.text(start, ax.get_ylim()[1], f" stage {i}", va="top", fontsize=8, color="grey")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title(f"{title}: training loss")
    ax.legend(loc="lower left")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    plot_losses(sys.argv[3:], sys.argv[1], sys.argv[2])
