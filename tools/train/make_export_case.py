#!/usr/bin/env python3
"""Writes tests/data/unseen/passkey_torch_export: a randomly initialised model of the passkey
layout (train_passkey.model_config at width 64, one head) as samba_torch.export writes it, with io.safetensors
holding a 300-token passkey prompt and PyTorch's float32 logits for it. The C++ tests load it like
every other case: it keeps the exporter's output loadable and the PyTorch model equal to the
library (one head of 64, window 128 over more than two windows, ASCII vocabulary).

    python3 tools/train/make_export_case.py tests/data/unseen/passkey_torch_export
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import passkey_task  # noqa: E402
from samba_torch import Samba, export, write_safetensors  # noqa: E402
from train_passkey import model_config  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    torch.manual_seed(20261201)
    model = Samba(model_config("samba"))
    model.config.name = "passkey_torch_export"
    export(model, out)
    prompt, _ = passkey_task.make_prompt(300, 0.25, "27182")
    ids = torch.tensor([passkey_task.encode(prompt)])
    with torch.no_grad():
        logits = model(ids).numpy().astype(np.float32)
    write_safetensors(os.path.join(out, "io.safetensors"), {"input_ids": ids.numpy().astype(np.int64), "logits": logits})
    print(json.dumps({"case": out, "tokens": ids.shape[1]}))


if __name__ == "__main__":
    main()
