#!/usr/bin/env bash
# tools/train/train_shipped_models.sh OUT [samba|swa]...: reruns the training of the shipped passkey
# models (models/passkey-samba, models/passkey-swa) stage by stage, each stage starting from the
# last (--init), with the commands and seed of their model cards. OUT/<arch>-stage<N> is each
# stage's model directory; the last stage's is the model. Default: both models, one after the
# other (on one GPU the two may also run at once, as two invocations). Prints the SHA-256 of each
# stage's model.safetensors: the same script, seed, PyTorch and GPU kind give the same weights.
# Samba's stage 3 holds about 135 GB of GPU memory (an H200; see models/passkey-samba/README.md).
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = --help ] || [ "$1" = -h ]; then
  sed -n '2,8p' "$0"
  [ $# -ge 1 ]  # --help succeeds; no arguments is a usage error
  exit
fi
out=$1
shift
archs=${*:-samba swa}
for arch in $archs; do
  case $arch in
    samba | swa) ;;
    *)
      echo "train_shipped_models.sh: unknown model '$arch' (samba or swa)" >&2
      exit 2
      ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"

stage() {  # NAME ARGS...: one train_passkey.py run into OUT/NAME
  local name=$1
  shift
  echo "== $name: train_passkey.py $*" >&2
  python3 "$here/train_passkey.py" --out "$out/$name" "$@"
  sha256sum "$out/$name/model.safetensors" | sed "s|  .*|  $name/model.safetensors|"
}

for arch in $archs; do
  case $arch in
    samba)
      stage samba-stage1 --arch samba --n-embd 128 --n-head 2
      stage samba-stage2 --arch samba --n-embd 128 --n-head 2 --init "$out/samba-stage1" \
        --min-length 8192 --max-length 65536 --steps 800 --lr 3e-4 --eval-contexts 4096,16384,65536
      stage samba-stage3 --arch samba --n-embd 128 --n-head 2 --init "$out/samba-stage2" \
        --min-length 65536 --max-length 262144 --tokens 262144 --steps 300 --lr 2e-4 \
        --eval-every 100 --eval-trials 4 --eval-contexts 65536,262144
      ;;
    swa)
      stage swa-stage1 --arch swa --n-embd 128 --n-head 2 --eval-every 1000
      stage swa-stage2 --arch swa --n-embd 128 --n-head 2 --init "$out/swa-stage1" \
        --min-length 4096 --max-length 32768 --steps 1000 --lr 3e-4 --eval-contexts 4096,16384,65536
      ;;
  esac
done
