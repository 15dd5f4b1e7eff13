# bench/bench_common.sh: sourced by the bench/run_*.sh scripts (from the repository root, with
# $out set). Starts $out empty and defines run LABEL ARGS...: one `samba bench ARGS...`, whose JSON
# last line is appended to $out with "label": LABEL.
samba=build/bin/samba
mkdir -p "$(dirname "$out")"
: > "$out"
run() {
  local label=$1; shift
  echo "== $label: samba bench $*" >&2
  "$samba" bench "$@" | tail -n 1 | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["label"]=sys.argv[1]; print(json.dumps(d))' "$label" >> "$out"
}
