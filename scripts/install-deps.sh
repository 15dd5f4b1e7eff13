#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing samba needs (uses sudo unless root).
set -euo pipefail
packages=(cmake g++ make pkg-config libeigen3-dev libxsimd-dev xtl-dev libopenblas-dev nlohmann-json3-dev libcli11-dev catch2 libbenchmark-dev libsentencepiece-dev sentencepiece)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
