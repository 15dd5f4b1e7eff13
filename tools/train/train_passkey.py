#!/usr/bin/env python3
"""Trains a small Samba (or the SWA-only baseline) on passkey retrieval and writes a model
directory that the library loads as it is (config.json, model.safetensors, tokenizer.json,
passkey.json, training.json with the command and seed, train_log.jsonl, loss.png).

    python3 tools/train/train_passkey.py --arch samba --out stage1
    python3 tools/train/train_passkey.py --arch samba --init stage1 --min-length 8192 --max-length 65536 ... --out stage2

One run is one stage; the shipped models (models/*/README.md) were trained in stages at longer and
longer sequences, each starting from the last (--init), and their cards give the exact commands.

The model sees sequences a few times longer than its attention window (128 tokens), so only the
Mamba state can carry the key from the middle of a sequence to a question far after it. A
training sequence holds one key and one to --max-questions question-answer pairs after it, the
last at its end. Two curricula run over the first half of the steps: the longest sequence grows
from twice --min-length to --max-length, and the share of sequences whose first question directly follows
the key (where attention alone can copy it, which teaches the format) falls from 1/2 to 1/10.
Every step holds about --tokens tokens. The loss is the mean next-token cross-entropy of the text
plus that of the answers' tokens (so the answers count as much as the rest).
Everything random comes from --seed: the same command gives the same model on the same device
and PyTorch version (deterministic algorithms are requested). Runs on a CUDA GPU when there is
one (--device), else on the CPU (--threads).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import passkey_task  # noqa: E402
from samba_torch import Config, Samba, export, read_safetensors  # noqa: E402

PAD = 0  # the ASCII NUL: never in the task's text


def model_config(arch, n_embd=64, n_head=1):
    """4 blocks, MLP 3 x n_embd, window 128, one KV head, ASCII vocabulary; Samba or SWA-only."""
    return Config(name=f"passkey-{arch}", n_layer=4, n_embd=n_embd, n_head=n_head, n_query_groups=1,
                  intermediate_size=3 * n_embd, local_window=128, mb_per_layer=2 if arch == "samba" else -1,
                  vocab_size=128, padded_vocab_size=128)


def progress(step, steps):
    """0 at the start, 1 from the middle of the run on: how far the curricula are."""
    return min(1.0, step / (0.5 * steps))


def length_at(step, steps, lo, hi, rng):
    """Sequence length of a step: uniform in [lo, cap], cap growing from 2 lo to hi."""
    cap = int(min(hi, 2 * lo + (hi - 2 * lo) * progress(step, steps)))
    return rng.randint(lo, max(lo, cap))


def batch(rng, length, count, device, adjacent_share, max_questions):
    """ids [count, length] (left-padded), targets [count, length] (-1: no loss), and the mask of
    the positions that predict an answer (its digits and the '.')."""
    ids = torch.full((count, length), PAD, dtype=torch.long)
    answer = torch.zeros((count, length), dtype=torch.bool)
    digits = passkey_task.TASK["digits"]
    for b in range(count):
        tokens, starts = passkey_task.training_example(rng, length, rng.random(), questions=rng.randint(1, max_questions),
                                                       first_adjacent=rng.random() < adjacent_share)
        tokens = tokens[-length:]
        offset = length - len(tokens)
        ids[b, offset:] = torch.tensor(tokens)
        for start in starts:
            answer[b, offset + start - 1: offset + start + digits] = True
    targets = torch.full_like(ids, -1)
    targets[:, :-1] = ids[:, 1:]
    targets[ids == PAD] = -1
    return ids.to(device), targets.to(device), answer.to(device)


@torch.no_grad()
def accuracy(model, rng, context, trials, device):
    """Fraction of prompts of `context` tokens whose key greedy decoding reproduces."""
    correct = 0
    for _ in range(trials):
        prompt, key = passkey_task.make_prompt(context, rng.random(), passkey_task.random_key(rng))
        ids = torch.tensor([passkey_task.encode(prompt)], device=device)
        out = ""
        for _ in range(len(key)):
            nxt = int(model(ids)[0, -1, :128].argmax())
            out += chr(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]], device=device)], dim=1)
        correct += out == key
    return correct / trials


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__[__doc__.index("\n\n") + 2:])
    p.add_argument("--arch", choices=("samba", "swa"), default="samba", help="Samba, or the SWA-only baseline (default samba)")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--steps", type=int, default=3000, help="optimizer steps (default 3000)")
    p.add_argument("--tokens", type=int, default=32768, help="tokens per step (default 32768)")
    p.add_argument("--min-length", type=int, default=256, help="shortest training sequence (default 256)")
    p.add_argument("--max-length", type=int, default=4096, help="longest training sequence (default 4096, 32 windows)")
    p.add_argument("--max-questions", type=int, default=4, help="questions per training sequence: 1 to this (default 4)")
    p.add_argument("--n-embd", type=int, default=128, help="model width (default 128)")
    p.add_argument("--n-head", type=int, default=2, help="attention heads, one KV head shared (default 2)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the weights and the data (default 1234)")
    p.add_argument("--eval-every", type=int, default=250, help="steps between accuracy checks and checkpoints (default 250)")
    p.add_argument("--eval-trials", type=int, default=8, help="prompts per context in each accuracy check (default 8)")
    p.add_argument("--init", help="model directory to start from (a second stage at longer lengths); its config must match")
    p.add_argument("--eval-contexts", default="256,1024,4096,16384",
                   help="contexts of the accuracy checks, comma-separated (default 256,1024,4096,16384)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device (default: cuda if present)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: PyTorch's choice)")
    args = p.parse_args()
    if args.min_length < 96 or args.max_length < 2 * args.min_length:
        sys.exit("--min-length must be at least 96 and --max-length at least twice it")

    if args.n_embd % args.n_head or args.max_questions < 1:
        sys.exit("--n-embd must be a multiple of --n-head, and --max-questions at least 1")
    try:
        eval_contexts = [int(c) for c in args.eval_contexts.split(",")]
    except ValueError:
        sys.exit(f"--eval-contexts: expected comma-separated token counts, got '{args.eval_contexts}'")
    if min(eval_contexts) < 128:
        sys.exit("--eval-contexts: every context must be at least 128 tokens (the task's sentences need ~100)")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's condition for deterministic results
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)  # an error, not a warning, if an op has no deterministic form
    data_rng, eval_rng = random.Random(args.seed), random.Random(args.seed + 1)
    config = model_config(args.arch, args.n_embd, args.n_head)
    model = Samba(config)
    init_training = load_init(model, args.init) if args.init else None
    model = model.to(args.device)
    params = sum(p.numel() for p in model.parameters())
    print(f"train_passkey: {config.name}, {params} parameters, {args.steps} steps on {args.device}", file=sys.stderr)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "A_log" not in n]
    keep = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "A_log" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": keep, "weight_decay": 0.0}], lr=args.lr,
                            betas=(0.9, 0.95))
    warmup = max(1, args.steps // 20)

    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "train_log.jsonl")
    log = open(log_path, "w")
    start = time.time()
    for step in range(1, args.steps + 1):
        lr = args.lr * min(1.0, step / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.steps))))
        for g in opt.param_groups:
            g["lr"] = lr
        length = length_at(step, args.steps, args.min_length, args.max_length, data_rng)
        ids, targets, answer = batch(data_rng, length, max(1, args.tokens // length), args.device,
                                     adjacent_share=0.5 - 0.4 * progress(step, args.steps), max_questions=args.max_questions)
        logits = model(ids)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1, reduction="none")
        text = (targets.reshape(-1) >= 0) & ~answer.reshape(-1)
        loss = losses[text].mean() + losses[answer.reshape(-1)].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        answer_loss = float(losses[answer.reshape(-1)].mean().detach())
        entry = {"step": step, "length": length, "loss": loss.item(), "answer_loss": answer_loss, "lr": lr,
                 "seconds": time.time() - start}
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            for context in eval_contexts:
                entry[f"accuracy_{context}"] = accuracy(model, eval_rng, context, args.eval_trials, args.device)
            model.train()
            write_model(model, args, params, step, start, init_training)  # a checkpoint: a run cut short still leaves a model
        log.write(json.dumps(entry) + "\n")
        log.flush()
        if step % 20 == 0 or any(k.startswith("accuracy_") for k in entry):
            print("train_passkey: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items()),
                  file=sys.stderr)
    log.close()
    plot(log_path, os.path.join(args.out, "loss.png"), config.name)
    print(f"train_passkey: wrote {args.out} ({time.time() - start:.0f} s)", file=sys.stderr)


def load_init(model, directory):
    """Loads a model directory written by this script into `model`; returns its training.json."""
    with open(os.path.join(directory, "config.json")) as f:
        theirs = json.load(f)
    ours = model.config.to_json()
    fields = ("n_layer", "n_embd", "n_head", "n_query_groups", "intermediate_size", "local_window", "mb_per_layer",
              "vocab_size", "padded_vocab_size")
    if any(theirs.get(k) != ours[k] for k in fields):
        sys.exit(f"--init {directory}: its config.json differs from this run's model in one of {', '.join(fields)}")
    tensors = read_safetensors(os.path.join(directory, "model.safetensors"))
    state = model.state_dict()
    if set(tensors) != set(state):
        sys.exit(f"--init {directory}: model.safetensors does not hold this model's tensors")
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
    with open(os.path.join(directory, "training.json")) as f:
        return json.load(f)


def write_model(model, args, params, step, start, init_training=None):
    """The model directory as of `step`; training.json says whether the run had finished."""
    training = {"command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]), "seed": args.seed, "steps": args.steps,
                "steps_done": step, "finished": step == args.steps, "device": args.device, "torch": torch.__version__,
                "parameters": params, "seconds": time.time() - start, "arguments": vars(args)}
    if init_training is not None:
        training["init_training"] = init_training  # the stage this one started from, as it recorded itself
    if args.device.startswith("cuda"):
        training["gpu"] = torch.cuda.get_device_name(args.device)
    export(model, args.out, {
        "tokenizer.json": json.dumps({"type": "ascii", "vocab_size": 128}) + "\n",
        "passkey.json": json.dumps(passkey_task.TASK, indent=1) + "\n",
        "training.json": json.dumps(training, indent=1) + "\n",
    })


def plot(log_path, png, title):
    try:
        from plot_training import plot_losses
        plot_losses([log_path], png, title)
    except ImportError:
        print("train_passkey: matplotlib missing, no loss.png", file=sys.stderr)


if __name__ == "__main__":
    main()
