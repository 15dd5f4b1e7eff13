#!/usr/bin/env bash
# bench/gpu/run_gpu_suite.sh BUILD OUT [PART...]: the GPU checks and measurements behind
# docs/performance.md, run from the repository root on a machine with an NVIDIA GPU and PyTorch.
# BUILD is a build folder configured with -DSAMBA_ENABLE_CUDA=ON (its bin/ is used); OUT a folder
# for the results: results.jsonl (samba bench and the PyTorch peers, one JSON object per line,
# for tools/plot_gpu.py), attention.json and gemv.json (Google Benchmark's JSON of
# bench_cuda_attention and bench_cuda_gemv) and one log per part. PARTs, in the order given
# (default: all of them):
#   tests      the CUDA test programs (the model test over $SAMBA_CASES, default the goldens
#              beside the checkout and tests/data/unseen)
#   attention  bench_cuda_attention and the FlexAttention peer on the same shapes
#   decode     bench_cuda_gemv (the step's products against the read bandwidth), samba-1.3b
#              batch-1 decoding (with and without CUDA graphs), batch 16 at contexts
#              to 64K, transformer-1.3b batch 16 at contexts to 8K
#   prefill    samba-1.3b prompts of 4K to 128K tokens
#   peers      HF Llama with SDPA: prefill 4K to 128K, batch-16 decoding at contexts to 64K
set -uo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,16p' "$0"
  exit 2
fi
build=$1 out=$2
shift 2
parts=${*:-tests attention decode prefill peers}
mkdir -p "$out"
samba="$build/bin/samba"
bench="$samba bench --backend cuda --dtype bf16"
status=0
step() {  # LOG COMMAND...: runs the command, its stdout appended to LOG, a failure remembered
  local log=$1
  shift
  echo "== $*" >&2
  "$@" >> "$log" || { echo "!! failed ($?): $*" >&2; status=1; }
}
for part in $parts; do
  case $part in
    tests)
      cases=${SAMBA_CASES:-../shared/golden tests/data/unseen}
      for t in gemv scan attention; do
        step "$out/tests.log" "$build/bin/samba_cuda_${t}_test"
      done
      # shellcheck disable=SC2086
      step "$out/tests.log" "$build/bin/samba_cuda_model_test" $cases
      grep -c '^ok' "$out/tests.log" | sed 's/^/checks passed: /' >&2
      grep '^FAIL' "$out/tests.log" >&2
      ;;
    attention)
      step "$out/attention.log" "$build/bin/bench_cuda_attention" --benchmark_min_time=0.2 --benchmark_out="$out/attention.json" \
        --benchmark_out_format=json
      step "$out/results.jsonl" python3 bench/gpu/peer_flex_attention.py --lengths 4096,16384,65536,131072 --reps 5 --sdpa-max 0
      ;;
    decode)
      step "$out/gemv.log" "$build/bin/bench_cuda_gemv" --benchmark_min_time=0.2 --benchmark_out="$out/gemv.json" --benchmark_out_format=json
      step "$out/results.jsonl" $bench --preset samba-1.3b --prompt 16 --generate 256 --calibrate
      step "$out/results.jsonl" $bench --preset samba-1.3b --prompt 16 --generate 256 --no-cuda-graphs
      for c in 0 16384 32768 65536; do
        step "$out/results.jsonl" $bench --preset samba-1.3b --batch 16 --prompt 1 --context "$c" --generate 32
      done
      for c in 0 4096 8192; do
        step "$out/results.jsonl" $bench --preset transformer-1.3b --batch 16 --prompt 1 --context "$c" --generate 16
      done
      ;;
    prefill)
      step "$out/results.jsonl" $bench --preset samba-1.3b --prompt 4096,16384,65536,131072 --generate 0 --calibrate
      ;;
    peers)
      step "$out/results.jsonl" python3 bench/gpu/peer_transformer.py prefill --lengths 4096,16384,65536,131072 --reps 2
      step "$out/results.jsonl" python3 bench/gpu/peer_transformer.py decode --batch 16 --contexts 0,16384,32768,65536 --steps 16 \
        --fill random
      ;;
    *)
      echo "run_gpu_suite.sh: unknown part '$part'" >&2
      exit 2
      ;;
  esac
done
exit $status
