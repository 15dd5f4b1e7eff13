"""Output helpers shared by the PyTorch peer benchmarks: progress on stderr, results as JSON lines
on stdout (and appended to --out FILE when given)."""
import json
import sys


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def emit(rec, out):
    line = json.dumps(rec)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
