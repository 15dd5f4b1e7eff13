"""A PyTorch Samba for training (SPEC.md; the official lit-gpt model's structure and names).

Samba (mb_per_layer 2): block i mixes with Mamba when i is even and sliding-window attention (SWA)
when it is odd, then a SwiGLU MLP, each sublayer pre-norm with its own residual; mb_per_layer -1
gives the SWA-only baseline. Parameter names are the official checkpoint names
(transformer.h.{i}.attn.in_proj.weight, ...), so that `export` writes a model directory the C++
library loads as it is: config.json in the official format and model.safetensors (float32).

The selective scan (h_t = exp(dt A) h_{t-1} + dt B x, SPEC.md "Mamba") runs in chunks of about
sqrt(T) steps (`selective_scan`): 2 sqrt(T) sequential steps instead of T, which is what makes
training fast on a GPU.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from samba_ref import read_safetensors, write_safetensors  # noqa: E402


class Config:
    """The subset of the official Config this model reads (field names as in config.json)."""

    def __init__(self, name, n_layer, n_embd, n_head, n_query_groups, intermediate_size, local_window, mb_per_layer,
                 vocab_size, padded_vocab_size, norm_eps=1e-5, rotary_percentage=1.0):
        self.name, self.n_layer, self.n_embd, self.n_head = name, n_layer, n_embd, n_head
        self.n_query_groups, self.intermediate_size, self.local_window = n_query_groups, intermediate_size, local_window
        self.mb_per_layer, self.vocab_size, self.padded_vocab_size = mb_per_layer, vocab_size, padded_vocab_size
        self.norm_eps, self.rotary_percentage = norm_eps, rotary_percentage
        self.head_size = n_embd // n_head
        assert self.head_size * n_head == n_embd and n_head % n_query_groups == 0
        # Mamba inside Samba: the defaults of the official lit_gpt/mamba_simple.py.
        self.d_inner, self.d_state, self.d_conv, self.dt_rank = 2 * n_embd, 16, 4, math.ceil(n_embd / 16)

    def uses_mamba(self, i):
        return self.mb_per_layer > 0 and i % self.mb_per_layer == 0

    def to_json(self):
        """config.json in the official (lit-gpt) format."""
        return {
            "name": self.name, "org": "samba-cpp", "block_size": 4096, "vocab_size": self.vocab_size,
            "padded_vocab_size": self.padded_vocab_size, "padding_multiple": 64, "n_layer": self.n_layer,
            "n_embd": self.n_embd, "n_head": self.n_head, "n_query_groups": self.n_query_groups, "head_size": self.head_size,
            "intermediate_size": self.intermediate_size, "local_window": self.local_window, "mb_per_layer": self.mb_per_layer,
            "rotary_percentage": self.rotary_percentage, "norm_eps": self.norm_eps, "nope": False, "mamba_init": True,
            "tie_embeddings": True, "parallel_residual": False, "bias": False, "rms_norm": True, "_norm_class": "FusedRMSNorm",
            "_mlp_class": "LLaMAMLP", "mlp": True, "mamba": False, "mamba_swa_mlp": False, "full_per_layer": 1000000,
            "condense_ratio": 1, "shared_attention_norm": False, "sc_attn": False, "use_mega": False, "abl_mamba": False,
            "ret_per_layer": -1, "gla_per_layer": -1, "fused_add_norm": True, "residual_in_fp32": True,
        }


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(dim)), eps

    def forward(self, x):  # SPEC.md "RMSNorm", in float32
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mamba(nn.Module):
    """Mamba v1 mixer (SPEC.md "Mamba"), official names and initialisation."""

    def __init__(self, c):
        super().__init__()
        D, E, N, K, R = c.n_embd, c.d_inner, c.d_state, c.d_conv, c.dt_rank
        self.E, self.N, self.R = E, N, R
        self.in_proj = nn.Linear(D, 2 * E, bias=False)
        self.conv1d = nn.Conv1d(E, E, K, groups=E, padding=K - 1, bias=True)
        self.x_proj = nn.Linear(E, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, E, bias=True)
        self.out_proj = nn.Linear(E, D, bias=False)
        # dt_proj: weights U(-R^-1/2, R^-1/2); bias = softplus^-1(dt), dt log-uniform in [1e-3, 1e-1].
        nn.init.uniform_(self.dt_proj.weight, -R ** -0.5, R ** -0.5)
        dt = torch.exp(torch.rand(E) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(E, 1))  # [E, N]
        self.D = nn.Parameter(torch.ones(E))

    def forward(self, u):  # u [B, T, D] -> [B, T, D]
        T = u.shape[1]
        x, z = self.in_proj(u).chunk(2, dim=-1)                                          # [B, T, E] each
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :T].transpose(1, 2))             # causal depthwise conv
        dt_low, b, c = self.x_proj(x).split([self.R, self.N, self.N], dim=-1)            # [B,T,R], [B,T,N] x2
        dt = F.softplus(self.dt_proj(dt_low))                                             # [B, T, E]
        a = -torch.exp(self.A_log)                                                        # [E, N]
        y = selective_scan(x, dt, a, b, c) + x * self.D                                   # [B, T, E]
        return self.out_proj(y * F.silu(z))


def selective_scan(x, dt, a, b, c):
    """y_t = C_t . h_t with h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t (SPEC.md "Mamba"), in chunks.

    x, dt [B, T, E]; a [E, N]; b, c [B, T, N] -> y [B, T, E]. The T steps are cut into chunks of
    L ~ sqrt(T). A first pass runs the recurrence inside every chunk at once, from a zero state,
    keeping the state and the running product of the decays; a second carries the state across chunk
    starts; then h_t = local_t + decay_product_t * h_start. The same products and sums as the
    step-by-step definition, but 2 sqrt(T) sequential steps instead of T, each over the whole batch.
    """
    B_, T, E = x.shape
    N = a.shape[1]
    chunk = max(1, math.isqrt(T - 1) + 1) if T > 1 else 1
    pad = (-T) % chunk
    if pad:  # zero dt past the end: decay 1 and no input, so the padded steps change nothing
        x, dt = F.pad(x, (0, 0, 0, pad)), F.pad(dt, (0, 0, 0, pad))
        b, c = F.pad(b, (0, 0, 0, pad)), F.pad(c, (0, 0, 0, pad))
    n_chunks = (T + pad) // chunk
    shape = (B_, n_chunks, chunk)
    decay = torch.exp(dt.reshape(*shape, E, 1) * a)                                         # [B, C, L, E, N]
    drive = (dt * x).reshape(*shape, E, 1) * b.reshape(*shape, 1, N)                            # [B, C, L, E, N]
    # unbind, not indexing: the backward of one unbind is one stack, that of L slices L full-size buffers.
    decays, drives = decay.unbind(2), drive.unbind(2)                                    # L x [B, C, E, N]
    local, product = [drives[0]], [decays[0]]
    for t in range(1, chunk):  # inside all chunks at once, from a zero state
        local.append(decays[t] * local[-1] + drives[t])
        product.append(decays[t] * product[-1])
    starts, h = [], x.new_zeros(B_, E, N)
    for product_k, local_k in zip(product[-1].unbind(1), local[-1].unbind(1)):  # across chunk starts
        starts.append(h)
        h = product_k * h + local_k                                                      # h_start_{k+1}
    h_start = torch.stack(starts, dim=1)                                                 # [B, C, E, N]
    states = torch.stack(local, dim=2) + torch.stack(product, dim=2) * h_start.unsqueeze(2)  # [B, C, L, E, N]
    y = torch.einsum("bcten,bctn->bcte", states, c.reshape(*shape, N))                      # [B, C, L, E]
    return y.reshape(B_, T + pad, E)[:, :T]


def selective_scan_sequential(x, dt, a, b, c):
    """The same recurrence one step at a time (the definition; tests check selective_scan against it)."""
    h, ys = x.new_zeros(x.shape[0], x.shape[2], a.shape[1]), []
    for t in range(x.shape[1]):
        h = torch.exp(dt[:, t, :, None] * a) * h + (dt[:, t] * x[:, t])[:, :, None] * b[:, t, None, :]
        ys.append(torch.einsum("ben,bn->be", h, c[:, t]))
    return torch.stack(ys, dim=1)


def rope(x, positions):
    """Rotate-half RoPE over the whole head (SPEC.md "SWA"); x [B, T, heads, hs]."""
    hs = x.shape[-1]
    theta = 10000.0 ** (-torch.arange(0, hs, 2, dtype=torch.float64, device=x.device) / hs)      # [hs/2]
    angle = positions.to(torch.float64)[:, None] * theta[None, :]                              # [T, hs/2]
    cos, sin = torch.cos(angle).to(x.dtype)[None, :, None, :], torch.sin(angle).to(x.dtype)[None, :, None, :]
    x1, x2 = x[..., : hs // 2], x[..., hs // 2:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class SlidingWindowAttention(nn.Module):
    """Causal GQA attention over the last `window` positions; fused qkv rows grouped per KV head."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.attn = nn.Linear(c.n_embd, (c.n_head + 2 * c.n_query_groups) * c.head_size, bias=False)
        self.proj = nn.Linear(c.n_head * c.head_size, c.n_embd, bias=False)

    def forward(self, x):  # [B, T, D]
        c, (B_, T, _) = self.c, x.shape
        G, qpk, hs = c.n_query_groups, c.n_head // c.n_query_groups, c.head_size
        qkv = self.attn(x).reshape(B_, T, G, qpk + 2, hs)
        q = qkv[:, :, :, :qpk].reshape(B_, T, G * qpk, hs)                                # head h = g * qpk + i
        k, v = qkv[:, :, :, qpk], qkv[:, :, :, qpk + 1]                                   # [B, T, G, hs]
        pos = torch.arange(T, device=x.device)
        q, k = rope(q, pos), rope(k, pos)
        k, v = k.repeat_interleave(qpk, dim=2), v.repeat_interleave(qpk, dim=2)
        y = local_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), c.local_window)  # [B, H, T, hs]
        return self.proj(y.transpose(1, 2).reshape(B_, T, G * qpk * hs))



def local_attention(q, k, v, window):
    """Causal attention over the last `window` positions, t - window < j <= t (SPEC.md "SWA").

    q, k, v [B, H, T, hs] -> [B, H, T, hs]. Queries go in blocks of `window`; block i sees keys
    [(i-1) window, (i+1) window), masked to each query's window, so time and memory grow as
    T x 2 window instead of T^2 (what lets training run at tens of thousands of tokens).
    """
    B_, H, T, hs = q.shape
    W = window
    pad = (-T) % W
    n_blocks = (T + pad) // W
    q = F.pad(q, (0, 0, 0, pad)).reshape(B_, H, n_blocks, W, hs)                           # [B, H, nb, W, hs]
    k_blocks = F.pad(k, (0, 0, W, pad)).reshape(B_, H, n_blocks + 1, W, hs)                # [B, H, nb+1, W, hs]
    v_blocks = F.pad(v, (0, 0, W, pad)).reshape(B_, H, n_blocks + 1, W, hs)
    keys = torch.cat([k_blocks[:, :, :-1], k_blocks[:, :, 1:]], dim=3)                  # [B, H, nb, 2W, hs]
    values = torch.cat([v_blocks[:, :, :-1], v_blocks[:, :, 1:]], dim=3)                # [B, H, nb, 2W, hs]
    a = torch.arange(W, device=q.device)[:, None]                                        # query offset in its block
    b = torch.arange(2 * W, device=q.device)[None, :]                                    # key offset from (i-1) W
    first = (torch.arange(n_blocks, device=q.device) * W - W)[:, None, None]              # position of key offset 0
    allowed = (b <= a + W) & (b > a) & (first + b >= 0)                                  # [nb, W, 2W]
    # Written out rather than F.scaled_dot_product_attention: its fused CUDA backward adds in a
    # nondeterministic order, and the training run must be reproducible from its seed.
    scores = (q @ keys.transpose(-1, -2)) * hs ** -0.5                                   # [B, H, nb, W, 2W]
    y = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ values      # [B, H, nb, W, hs]
    return y.reshape(B_, H, n_blocks * W, hs)[:, :, :T]


def full_window_attention(q, k, v, window):
    """The same attention through a full T x T mask (the definition; tests check local_attention)."""
    i, j = torch.arange(q.shape[2], device=q.device)[:, None], torch.arange(q.shape[2], device=q.device)[None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=(j <= i) & (j > i - window))

class SwiGLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.w1 = nn.Linear(c.n_embd, c.intermediate_size, bias=False)
        self.w2 = nn.Linear(c.n_embd, c.intermediate_size, bias=False)
        self.w3 = nn.Linear(c.intermediate_size, c.n_embd, bias=False)

    def forward(self, x):
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.swiglu = SwiGLU(c)

    def forward(self, x):
        return self.swiglu(x)


class Block(nn.Module):
    def __init__(self, c, i):
        super().__init__()
        self.norm_1, self.norm_2 = RMSNorm(c.n_embd, c.norm_eps), RMSNorm(c.n_embd, c.norm_eps)
        self.attn = Mamba(c) if c.uses_mamba(i) else SlidingWindowAttention(c)
        self.mlp = Mlp(c)

    def forward(self, x):
        h = x + self.attn(self.norm_1(x))
        return h + self.mlp(self.norm_2(h))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c.padded_vocab_size, c.n_embd)
        self.h = nn.ModuleList(Block(c, i) for i in range(c.n_layer))
        self.ln_f = RMSNorm(c.n_embd, c.norm_eps)


class Samba(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.transformer = Transformer(c)
        for name, p in self.named_parameters():  # GPT-2 style: N(0, 0.02), output projections scaled by depth
            if name.endswith(("in_proj.weight", "x_proj.weight", "attn.attn.weight", "w1.weight", "w2.weight", "wte.weight")):
                nn.init.normal_(p, std=0.02)
            elif name.endswith(("out_proj.weight", "proj.weight", "w3.weight")) and "dt_proj" not in name:
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.n_layer))

    def forward(self, ids):  # ids [B, T] -> logits [B, T, V_pad] (head tied to wte)
        x = self.transformer.wte(ids)
        for block in self.transformer.h:
            x = block(x)
        return self.transformer.ln_f(x) @ self.transformer.wte.weight.t()


def export(model, directory, extra_files=None):
    """Writes config.json and model.safetensors (float32, official names, tied head omitted)."""
    os.makedirs(directory, exist_ok=True)
    tensors = {name: p.detach().to("cpu", torch.float32).numpy() for name, p in model.state_dict().items()}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(model.config.to_json(), f, indent=1)
        f.write("\n")
    write_safetensors(os.path.join(directory, "model.safetensors"), {k: np.ascontiguousarray(v) for k, v in tensors.items()})
    for name, content in (extra_files or {}).items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(content)
