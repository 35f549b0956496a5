#!/usr/bin/env bash
# The RTL checks: lint every module (verilator -Wall), build every testbench with Verilator,
# run each on the shipped golden vectors (rtl/vectors) and on a fresh `spatten golden` set
# with a new seed (so the RTL meets the reference, not a frozen file), with the top-k cycle
# cross-check against the cycle simulator; then Yosys synthesis (rtl/synth.sh).
#
# usage: rtl/run-tests.sh SPATTEN_BIN [--src DIR] [--vectors DIR]... [--only TB] [--no-lint]
#                         [--no-synth]
#   SPATTEN_BIN    the spatten binary (target/release/spatten)
#   --src DIR      build the testbenches against DIR's .sv files instead of rtl/src: your
#                  modules, with our module names, parameters and ports
#   --vectors DIR  check this golden directory (repeatable) instead of the shipped set and a
#                  fresh one
#   --only TB      build and run only testbench TB (e.g. tb_softmax)
#   --no-lint      skip the -Wall lint and build with warnings non-fatal (mutants.py)
#   --no-synth     skip Yosys
# Environment: RTL_SEED (the fresh set's seed; default the current time, printed),
# RTL_COUNT (its vectors per module, default 64), RTL_ARCH (arch preset or TOML whose
# [topk_value] sets the engine's parameters and the cycle check; default spatten).
set -euo pipefail
rtl=$(cd "$(dirname "$0")" && pwd)
usage() {
  echo "usage: $0 SPATTEN_BIN [--src DIR] [--vectors DIR]... [--only TB] [--no-lint]" \
    "[--no-synth]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
spatten=$(realpath "$1")
shift
[ -x "$spatten" ] || { echo "$0: $spatten is not an executable" >&2; exit 2; }
src=$rtl/src
synth=1
lint=1
only=
dirs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --src) [ $# -ge 2 ] || usage; src=$(realpath "$2"); shift 2 ;;
    --vectors) [ $# -ge 2 ] || usage; dirs+=("$(realpath "$2")"); shift 2 ;;
    --only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
    --no-lint) lint=0; shift ;;
    --no-synth) synth=0; shift ;;
    *) usage ;;
  esac
done
build=$rtl/build
mkdir -p "$build"
jobs=$(nproc 2>/dev/null || echo 2)
arch=${RTL_ARCH:-spatten}
step() { printf '\n-- %s (%ss)\n' "$1" "$SECONDS"; }

# The top-k engine's parameters: the resolved arch's [topk_value].
topk_param() {
  "$spatten" config show --kind arch "$arch" |
    awk -v key="$1" '/^\[/ {t = ($0 == "[topk_value]")} t && $1 == key {print $3}'
}
comparators=$(topk_param comparators)
fifo_depth=$(topk_param fifo_depth)
[ -n "$comparators" ] && [ -n "$fifo_depth" ] ||
  { echo "$0: no [topk_value] comparators/fifo_depth in arch $arch" >&2; exit 2; }
for tool in verilator yosys make g++ python3; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 2; }
done

# testbench: the sources it needs (modules first), extra Verilator options
TESTBENCHES=(
  "tb_zero_eliminator|zero_eliminator.sv|"
  "tb_requant_decision|requant_decision.sv|"
  "tb_qk_lane|qk_lane.sv|"
  "tb_importance|scale_mul.sv importance_acc.sv|"
  "tb_softmax|scale_mul.sv softmax.sv|-GHI_ROM=\"$rtl/rom/exp_hi.hex\" -GLO_ROM=\"$rtl/rom/exp_lo.hex\""
  "tb_topk_engine|zero_eliminator.sv topk_engine.sv|-GCOMPARATORS=$comparators -GFIFO_DEPTH=$fifo_depth"
)

if [ -n "$only" ]; then
  kept=()
  for entry in "${TESTBENCHES[@]}"; do [ "${entry%%|*}" = "$only" ] && kept+=("$entry"); done
  [ ${#kept[@]} -eq 1 ] || { echo "$0: no testbench $only" >&2; exit 2; }
  TESTBENCHES=("${kept[@]}")
fi

step "lint (verilator --lint-only -Wall) and build"
for entry in "${TESTBENCHES[@]}"; do
  IFS='|' read -r tb files opts <<<"$entry"
  srcs=()
  for f in $files; do srcs+=("$src/$f"); done
  top=${files##* }
  warn=(-Wall -Wno-BLKSEQ)
  if [ $lint -eq 1 ]; then
    verilator --lint-only -Wall "${srcs[@]}" --top-module "${top%.sv}"
  else
    warn+=(-Wno-fatal)
  fi
  # shellcheck disable=SC2086 # $opts is a list of options
  verilator --binary -j "$jobs" "${warn[@]}" -I"$rtl/tb" $opts "${srcs[@]}" \
    "$rtl/tb/$tb.sv" --top-module "$tb" --Mdir "$build/$tb" -o "$tb" >"$build/$tb.build.log" 2>&1 ||
    { cat "$build/$tb.build.log" >&2; exit 1; }
  echo "built $tb"
done

if [ ${#dirs[@]} -eq 0 ]; then
  seed=${RTL_SEED:-$(date +%s)}
  count=${RTL_COUNT:-64}
  step "fresh vectors: spatten golden --count $count --seed $seed"
  "$spatten" golden --out "$build/fresh" --count "$count" --seed "$seed" >/dev/null
  dirs=("$rtl/vectors" "$build/fresh")
fi

for dir in "${dirs[@]}"; do
  step "vectors $dir"
  "$spatten" golden --check "$dir" | tr '\n' ' '
  echo
  "$spatten" golden --topk-cycles "$dir" --arch "$arch" >"$build/topk_cycles.hex"
  for entry in "${TESTBENCHES[@]}"; do
    IFS='|' read -r tb _ _ <<<"$entry"
    n=$(python3 "$rtl/check_manifest.py" "$dir" "$tb")
    log=$build/$tb.run.log
    if ! "$build/$tb/$tb" +dir="$dir" +vectors="$n" +cycles="$build/topk_cycles.hex" >"$log" 2>&1; then
      echo "FAIL $tb on $dir:" >&2
      grep -v '^topk vector' "$log" >&2
      exit 1
    fi
    grep '^PASS' "$log"
  done
done

if [ $synth -eq 1 ]; then
  step "synthesis (rtl/synth.sh)"
  "$rtl/synth.sh"
fi
step "rtl: all passed"
