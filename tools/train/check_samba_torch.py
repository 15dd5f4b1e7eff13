#!/usr/bin/env python3
"""Checks the training model's fast paths against their definitions, in float64, values and gradients:
selective_scan against selective_scan_sequential, local_attention against full_window_attention,
over lengths that do and do not fill whole chunks and windows and over non-contiguous inputs (the
layouts the model passes them). Exits non-zero on a mismatch. Needs torch (CPU is enough).

    python3 tools/train/check_samba_torch.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from samba_torch import full_window_attention, local_attention, selective_scan, selective_scan_sequential  # noqa: E402

TOLERANCE = 1e-12  # relative L2, float64; both sides sum the same terms in different orders


def relative(a, b):
    return float((a - b).detach().norm() / max(float(b.detach().norm()), 1.0))


def transposed(*shape):
    """A float64 tensor of `shape` whose last two axes are stored swapped (non-contiguous), with grad."""
    t = torch.randn(*shape[:-2], shape[-1], shape[-2], dtype=torch.float64).transpose(-1, -2)
    return t.detach().requires_grad_()


def worst_error(fast, slow, inputs):
    y_fast, y_slow = fast(*inputs), slow(*inputs)
    weights = torch.randn_like(y_slow)  # a random linear functional: gradients of every output count
    grads = [g for g in inputs if g.requires_grad]
    g_fast = torch.autograd.grad((y_fast * weights).sum(), grads)
    g_slow = torch.autograd.grad((y_slow * weights).sum(), grads)
    return max([relative(y_fast, y_slow)] + [relative(a, b) for a, b in zip(g_fast, g_slow)])


def main():
    torch.manual_seed(0)
    worst = 0.0
    for T in (1, 2, 15, 16, 17, 37, 200):
        B, E, N = 2, 8, 4
        x, dt = transposed(B, T, E), transposed(B, T, E)
        with torch.no_grad():
            dt.copy_(dt.abs())  # dt > 0, as after softplus
        a = (-torch.rand(E, N, dtype=torch.float64) * 8).requires_grad_()
        b, c = transposed(B, T, N), transposed(B, T, N)
        worst = max(worst, worst_error(selective_scan, selective_scan_sequential, [x, dt, a, b, c]))
    for T in (1, 5, 8, 9, 31, 64, 300):
        for window in (1, 4, 8, 128):
            q, k, v = (transposed(2, 3, T, 4) for _ in range(3))
            worst = max(worst, worst_error(lambda *t: local_attention(*t, window), lambda *t: full_window_attention(*t, window),
                                           [q, k, v]))
    print(f"check_samba_torch: worst relative L2 error {worst:.2e} (tolerance {TOLERANCE:.0e})")
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == "__main__":
    main()
