#!/usr/bin/env bash
# Runs the CPU measurements behind docs/performance.md and writes them as JSON lines.
#   bench/run_cpu_suite.sh [OUT.jsonl]          (default bench/results/cpu.jsonl)
# Needs a Release build in build/ (the README's build command). Run it on an otherwise idle
# machine: every figure is also reported as a fraction of the machine's own read bandwidth or
# SGEMM rate, measured in the same run (--calibrate). Set LLAMA_BENCH=/path/to/llama-bench and
# LLAMA_MAMBA_F32 / LLAMA_MAMBA_F16 (GGUF files of the mamba-1.4b shape) to run llama.cpp beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/cpu.jsonl}
source bench/bench_common.sh
run samba-421m-decode-bf16    --preset samba-421m --dtype bf16 --prompt 512 --generate 64 --calibrate
run samba-421m-prefill-f32    --preset samba-421m --dtype f32 --prompt 512 --generate 16 --calibrate
run samba-421m-prefill-f32-1t --preset samba-421m --dtype f32 --prompt 512 --generate 0 --threads 1
run mamba-1.4b-prefill-f32    --preset mamba-1.4b --dtype f32 --prompt 512 --generate 0
run mamba-1.4b-decode-bf16    --preset mamba-1.4b --dtype bf16 --prompt 16 --generate 128
run mamba-1.4b-decode-int8    --preset mamba-1.4b --dtype int8 --prompt 16 --generate 128
run mamba-1.4b-decode-f32     --preset mamba-1.4b --dtype f32 --prompt 16 --generate 32
for b in 1 2 4 8 16; do  # batched decoding: B sequences per step, each weight read once per step
  run samba-421m-decode-bf16-batch$b --preset samba-421m --dtype bf16 --prompt 64 --generate 32 --batch $b
done
run samba-mini-simd           --preset samba-mini --prompt 512 --generate 64
run samba-mini-scalar         --preset samba-mini --prompt 512 --generate 64 --backend scalar
echo "== bench_ops: selective scan and attention, both backends" >&2
build/bin/bench_ops --benchmark_filter='scan|attention|conv' --benchmark_format=json 2>/dev/null |
  python3 -c 'import json,sys
for b in json.load(sys.stdin)["benchmarks"]:
    print(json.dumps({"label": "op:" + b["name"], "real_time_ns": b["real_time"], **{k: v for k, v in b.items() if k in ("tokens", "flops", "state_updates")}}))' >> "$out"
if [ -n "${LLAMA_BENCH:-}" ]; then
  for f in "${LLAMA_MAMBA_F32:-}" "${LLAMA_MAMBA_F16:-}"; do
    [ -n "$f" ] || continue
    echo "== llama.cpp: $f" >&2
    "$LLAMA_BENCH" -m "$f" -t 2 -p 512 -n 128 -r 3 -o jsonl 2>/dev/null |
      python3 -c 'import json,sys
for line in sys.stdin:
    d = json.loads(line); d["label"] = "llama.cpp:" + d.get("type_k", "") + ":" + d["model_type"] + (":pp" if d["n_prompt"] else ":tg"); print(json.dumps(d))' >> "$out"
  done
fi
echo "wrote $out" >&2
