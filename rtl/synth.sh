#!/usr/bin/env bash
# Yosys synthesis sanity: each RTL module through a generic `synth` (no technology library),
# failing when Yosys reports a problem (`check -assert`) or a latch is inferred; writes a
# cell-count table to OUT (default rtl/build/synth.md) and prints it.
#
# usage: rtl/synth.sh [OUT]
set -euo pipefail
rtl=$(cd "$(dirname "$0")" && pwd)
out=${1:-$rtl/build/synth.md}
logs=$rtl/build/synth
mkdir -p "$logs"

# module: its sources (the first is the module, then what it instantiates)
MODULES=(
  "zero_eliminator:zero_eliminator.sv"
  "requant_decision:requant_decision.sv"
  "qk_lane:qk_lane.sv"
  "importance_acc:importance_acc.sv scale_mul.sv"
  "softmax:softmax.sv scale_mul.sv"
  "topk_engine:topk_engine.sv zero_eliminator.sv"
)

run_one() {
  local top=$1 files=$2 log=$logs/$1.log
  local read=""
  for f in $files; do read+="read_verilog -sv $rtl/src/$f; "; done
  # The softmax ROM images load relative to the repository root (the module's default).
  if ! (cd "$rtl/.." && yosys -l "$log" -q -p "$read hierarchy -top $top; synth -flatten -top $top;
        check -assert;
        select -assert-none t:\$dlatch t:\$adlatch t:\$dlatchsr t:\$_DLATCH_* t:\$_DLATCHSR_*;
        tee -o $logs/$top.stat stat" >/dev/null 2>&1); then
    echo "synth.sh: $top failed; the end of $log:" >&2
    tail -20 "$log" >&2
    return 1
  fi
}

pids=()
for entry in "${MODULES[@]}"; do
  run_one "${entry%%:*}" "${entry#*:}" &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ $fail -eq 0 ] || exit 1

{
  echo "| module | cells | of which flip-flops | Yosys check | latches |"
  echo "|---|---:|---:|---|---|"
  for entry in "${MODULES[@]}"; do
    top=${entry%%:*}
    cells=$(awk '/Number of cells:/ {print $4; exit}' "$logs/$top.stat")
    ffs=$(awk '$1 ~ /^\$_(S?DFF|DFFE|SDFFE|SDFFCE|ALDFF|DFFSR)/ {s += $2} END {print s + 0}' "$logs/$top.stat")
    echo "| $top | $cells | $ffs | pass | none |"
  done
} > "$out"
cat "$out"
