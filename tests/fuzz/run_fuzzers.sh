#!/usr/bin/env bash
# tests/fuzz/run_fuzzers.sh [SECONDS] [TARGET...]: builds the fuzz targets with Clang's libFuzzer
# (+ ASan + UBSan) in build-fuzz/ and runs each for SECONDS (default 600) from its committed seed
# corpus (tests/fuzz/corpus/TARGET; new inputs go to build-fuzz/corpus/TARGET). Targets:
# safetensors, config, state_file (default: all). A finding stops the target with a non-zero exit
# and leaves its input as build-fuzz/crash-* (the whole log in build-fuzz/fuzz_TARGET.log); add
# it to the seed corpus once fixed, so that ctest replays it on every build. Needs clang and
# libclang-rt-14-dev (Debian 12).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config state_file)
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAMBA_BUILD_FUZZERS=ON \
  -DSAMBA_BUILD_TOOLS=OFF -DSAMBA_BUILD_EXAMPLES=OFF -DSAMBA_BUILD_BENCH=OFF -DSAMBA_WITH_SENTENCEPIECE=OFF >/dev/null
cmake --build build-fuzz -j2 --target "${targets[@]/#/fuzz_}"
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  echo "== fuzz_$t for ${seconds} s"
  # libFuzzer's progress goes to build-fuzz/fuzz_TARGET.log; its summary (or a finding's report) is shown.
  if (cd build-fuzz && "./bin/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 \
        "corpus/$t" "../tests/fuzz/corpus/$t") > "build-fuzz/fuzz_$t.log" 2>&1; then
    grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "build-fuzz/fuzz_$t.log"
  else
    status=1
    tail -n 60 "build-fuzz/fuzz_$t.log"
  fi
done
exit $status
