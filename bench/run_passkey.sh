#!/usr/bin/env bash
# Passkey retrieval against context length, for docs: one `samba passkey` process per (model,
# context), so that each peak RSS is that run's own; keys and depths from a seed the tests never
# use. Writes the JSON lines, then prints the table and draws the heat maps (tools/plot_passkey.py).
#   bench/run_passkey.sh OUT.jsonl MODEL_DIR [MODEL_DIR...]     (SEED=... to change the seed)
# Models come from tools/train (config.json, model.safetensors, tokenizer.json, passkey.json).
# Needs a Release build in build/ (the README's command); the 1M-token prompts take most of the time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,7p' "$0"
  exit 2
fi
out=$1
shift
seed=${SEED:-20261201}
mkdir -p "$(dirname "$out")"
: > "$out"
run() {  # MODEL CONTEXT TRIALS
  echo "== $1 at $2 tokens, $3 trials" >&2
  build/bin/samba passkey --model "$1" --context "$2" --trials "$3" --seed "$seed" | tail -n 1 >> "$out"
}
for model in "$@"; do
  for context in 256 512 1024 4096 16384 32768 65536 262144; do run "$model" "$context" 20; done
  run "$model" 1048576 5
done
python3 tools/plot_passkey.py "$out" "${out%.jsonl}.png"
echo "wrote $out and ${out%.jsonl}.png" >&2
