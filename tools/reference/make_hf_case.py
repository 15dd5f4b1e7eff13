#!/usr/bin/env python3
"""Make a test case with HuggingFace transformers' MambaForCausalLM (the peer the goldens came from).

Writes OUT_DIR/{config.json, model.safetensors, io.safetensors} in the golden format:
input_ids int64 [B,T], logits float32 [B,T,V] from a float32 forward, and generate_prompt /
generate_ids / generate_logits from greedy cached generation. Weights are drawn by transformers'
own initialisation, then A_log, D, norm weights and conv biases are spread per channel (as in
the goldens) and every tensor is rounded to the stored dtype before the reference is computed.

Needs torch, transformers and safetensors (run it where they are installed, e.g. the GPU machine):
    python3 tools/reference/make_hf_case.py OUT_DIR --hidden 128 --layers 3 --vocab 512 --seed 1
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import MambaConfig, MambaForCausalLM


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--state", type=int, default=16)
    ap.add_argument("--conv", type=int, default=4)
    ap.add_argument("--expand", type=int, default=2)
    ap.add_argument("--dt-rank", default="auto", help='"auto" (= ceil(hidden/16)) or an integer')
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--no-conv-bias", action="store_true")
    ap.add_argument("--untied", action="store_true")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="bf16", help="stored weight dtype")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    cfg = MambaConfig(vocab_size=a.vocab, hidden_size=a.hidden, state_size=a.state, num_hidden_layers=a.layers,
                      expand=a.expand, conv_kernel=a.conv,
                      time_step_rank=a.dt_rank if a.dt_rank == "auto" else int(a.dt_rank),
                      use_conv_bias=not a.no_conv_bias, use_bias=False, tie_word_embeddings=not a.untied,
                      initializer_range=0.1, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = MambaForCausalLM(cfg).float().eval()
    g = torch.Generator().manual_seed(a.seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log"):      # [E, N]: a different decay per channel and state
                p.copy_(torch.log(torch.rand(p.shape, generator=g) * 15 + 1))
            elif name.endswith(".D"):        # [E]
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif "norm" in name:             # [D]
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name.endswith("conv1d.bias"):
                p.copy_(torch.rand(p.shape, generator=g) - 0.5)
        store = torch.bfloat16 if a.dtype == "bf16" else torch.float32
        for p in model.parameters():         # the reference computes from exactly the stored values
            p.copy_(p.to(store).float())

    ids = torch.randint(1, a.vocab, (a.batch, a.seq), generator=g)
    prompt = torch.randint(1, a.vocab, (1, a.prompt), generator=g)
    with torch.no_grad():
        logits = model(ids).logits.float()
        gen = model.generate(prompt, max_new_tokens=a.new_tokens, do_sample=False, eos_token_id=None, pad_token_id=0)
        assert gen.shape[1] == a.prompt + a.new_tokens, "generation stopped early"
        gen_logits = model(gen).logits.float()

    os.makedirs(a.out_dir, exist_ok=True)
    state = {k: v.to(store).contiguous() for k, v in model.state_dict().items()}
    if cfg.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    save_file(state, os.path.join(a.out_dir, "model.safetensors"), metadata={"format": "pt"})
    cfg_dict = cfg.to_dict()
    cfg_dict["architectures"] = ["MambaForCausalLM"]
    with open(os.path.join(a.out_dir, "config.json"), "w") as f:
        json.dump(cfg_dict, f, indent=2, sort_keys=True, default=str)
    save_file({"input_ids": ids.long().contiguous(), "logits": logits.contiguous(),
               "generate_prompt": prompt.long().contiguous(), "generate_ids": gen.long().contiguous(),
               "generate_logits": gen_logits.contiguous()},
              os.path.join(a.out_dir, "io.safetensors"))
    print(f"{a.out_dir}: params {sum(p.numel() for p in model.parameters())}, generated {gen[0, a.prompt:].tolist()}")


if __name__ == "__main__":
    main()
