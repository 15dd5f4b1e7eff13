#!/usr/bin/env bash
# Regenerates /work/main/tests/data/unseen/* deterministically (each case from its --seed).
# Usage: tools/reference/gen_unseen.sh [OUT_ROOT]   (default: tests/data/unseen next to tools/)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${1:-$HERE/../../tests/data/unseen}"
MC="python3 $HERE/make_case.py"

# Samba, 5 blocks (Mamba,SWA,Mamba,SWA,Mamba), D=32 (head_size 8), MQA, window 3, T = 21 >= 5*3+3, batch 2
$MC --out "$ROOT/samba5_mqa_w3" --arch samba --n-layer 5 --n-embd 32 --n-head 4 --n-query-groups 1 \
    --intermediate-size 64 --window 3 --vocab-size 128 --batch 2 --seq-len 21 --dtype bf16 --seed 101
# Samba, 3 blocks, GQA (4 q heads, 2 kv), window 1 (attention sees only itself), batch 2
$MC --out "$ROOT/samba3_gqa_w1" --arch samba --n-layer 3 --n-embd 64 --n-head 4 --n-query-groups 2 \
    --intermediate-size 64 --window 1 --vocab-size 128 --batch 2 --seq-len 12 --dtype bf16 --seed 102
# Samba, MHA 2x32, window 16, T = 83 = 5*16+3, float16 weights
$MC --out "$ROOT/samba2_mha_w16_f16" --arch samba --n-layer 2 --n-embd 64 --n-head 2 --n-query-groups 2 \
    --intermediate-size 96 --window 16 --vocab-size 128 --batch 1 --seq-len 83 --dtype f16 --seed 103
# Samba, untied lm_head, vocab 200 padded to 256 (padding_multiple 64), D=32, f32
$MC --out "$ROOT/samba3_untied_v200_f32" --arch samba --n-layer 3 --n-embd 32 --n-head 4 --n-query-groups 2 \
    --intermediate-size 64 --window 5 --vocab-size 200 --padding-multiple 64 --no-tie --batch 1 --seq-len 28 \
    --dtype f32 --seed 104
# LLaMA-SWA, full_per_layer 2: blocks 0,2 local (window 4), blocks 1,3 full causal; GQA; untied
$MC --out "$ROOT/llama_swa_fpl2_gqa" --arch llama_swa --n-layer 4 --n-embd 64 --n-head 4 --n-query-groups 2 \
    --intermediate-size 64 --window 4 --full-per-layer 2 --vocab-size 128 --batch 1 --seq-len 30 --dtype bf16 --seed 105
# Samba with attn_layer_pos "[1, 2]" (blocks 0,3 Mamba) and full_per_layer 2 (block 1 full, block 2 local)
$MC --out "$ROOT/samba4_attnpos12_fpl2" --arch samba --n-layer 4 --n-embd 64 --n-head 4 --n-query-groups 1 \
    --intermediate-size 64 --window 4 --attn-layer-pos "[1, 2]" --full-per-layer 2 --vocab-size 128 --batch 1 \
    --seq-len 30 --dtype bf16 --seed 106
# Samba, rotary_percentage 0.5 (RoPE on the first 16 of 32 head dims), MQA 2 heads, batch 2
$MC --out "$ROOT/samba2_rope50_mqa" --arch samba --n-layer 2 --n-embd 64 --n-head 2 --n-query-groups 1 \
    --intermediate-size 64 --window 8 --rotary-percentage 0.5 --vocab-size 128 --batch 2 --seq-len 43 \
    --dtype bf16 --seed 107
# Samba, NoPE, GQA
$MC --out "$ROOT/samba2_nope_gqa" --arch samba --n-layer 2 --n-embd 64 --n-head 4 --n-query-groups 2 \
    --intermediate-size 64 --window 5 --nope --vocab-size 128 --batch 1 --seq-len 28 --dtype bf16 --seed 108
# Mamba-SWA-MLP blocks, GQA
$MC --out "$ROOT/mamba_swa_mlp2_gqa" --arch mamba_swa_mlp --n-layer 2 --n-embd 64 --n-head 4 --n-query-groups 2 \
    --intermediate-size 64 --window 5 --vocab-size 128 --batch 1 --seq-len 28 --dtype bf16 --seed 109
# Full-attention transformer (local_window -1), MHA, untied, f32
$MC --out "$ROOT/transformer2_full_mha_f32" --arch transformer --n-layer 2 --n-embd 64 --n-head 4 \
    --n-query-groups 4 --intermediate-size 64 --vocab-size 128 --batch 1 --seq-len 40 --dtype f32 --seed 110
# head_size 128: n_embd 256, 2 query heads, 1 KV head, window 4, T = 23 = 5*4+3, tied
$MC --out "$ROOT/llama_swa1_hs128_mqa" --arch llama_swa --n-layer 1 --n-embd 256 --n-head 2 --n-query-groups 1 \
    --intermediate-size 32 --window 4 --vocab-size 64 --tie --batch 1 --seq-len 23 --dtype bf16 --seed 111
# HF Mamba: hidden 96, time_step_rank 8 (not ceil(96/16)=6), vocab 200 (unpadded), batch 2, greedy generation
$MC --out "$ROOT/hf_mamba2_d96_r8_v200" --arch hf_mamba --n-layer 2 --n-embd 96 --time-step-rank 8 \
    --vocab-size 200 --batch 2 --seq-len 24 --gen-prompt 6 --gen-new 10 --branch-gain 2.5 --dtype bf16 --seed 112
# condense_ratio 2 (RoPE positions halved), MQA, window 6, f16
$MC --out "$ROOT/llama_swa2_condense2_f16" --arch llama_swa --n-layer 2 --n-embd 32 --n-head 4 --n-query-groups 1 \
    --intermediate-size 64 --window 6 --condense-ratio 2 --vocab-size 96 --padding-multiple 32 --batch 1 \
    --seq-len 33 --dtype f16 --seed 113
