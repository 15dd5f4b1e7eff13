#!/usr/bin/env bash
# Prompt processing from 4K to 1M tokens: samba-mini (constant memory, linear time) beside
# transformer-mini (the same shape with full attention: quadratic time, memory growing with the
# context), one process per run so that each peak RSS is that run's own. Writes JSON lines.
#   bench/run_long_context.sh [OUT.jsonl] [MAX_BASELINE_TOKENS]
# MAX_BASELINE_TOKENS (default 131072) caps the quadratic baseline, which takes ~10 min at 128K on
# the 2-core development machine. Needs a Release build in build/; run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results/long-context.jsonl}
max_baseline=${2:-131072}
source bench/bench_common.sh
for n in 4096 8192 16384 32768 65536 131072 262144 524288 1048576; do
  run "samba-mini-$n" --preset samba-mini --prompt "$n" --generate 16
  if [ "$n" -le "$max_baseline" ]; then
    run "transformer-mini-$n" --preset transformer-mini --prompt "$n" --generate 16
  fi
done
echo "wrote $out" >&2
