#!/usr/bin/env bash
# Perplexity of the shipped decoders against MSB bits, static vs progressive quantization,
# pruning off (README, "A real decoder in the loop"). Needs the WikiText-2 text under the data
# root ($SPATTEN_DATA, else ./data). Usage: scripts/studies/decoder-quant.sh [SPATTEN] [WINDOWS]
set -euo pipefail
cd "$(dirname "$0")/../.."
spatten="${1:-target/release/spatten}"
windows="${2:-60}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for model in tiny-gpt2 tiny-llama; do
    for bits in 4 6 8 12; do
        for mode in static progressive; do
            lsb=0
            if [[ $mode == progressive ]]; then
                [[ $bits == 12 ]] && continue
                lsb=4
            fi
            w="$dir/q$bits-$mode.toml"
            cat >"$w" <<TOML
base = "gpt2-small"
name = "q$bits-$mode"
[token_pruning]
average_ratio = 0.0
ramp = 0.0
[head_pruning]
average_ratio = 0.0
[local_v]
keep_ratio = 1.0
[quant]
mode = "$mode"
msb_bits = $bits
lsb_bits = $lsb
requant_threshold = 0.1
TOML
            echo "== $model, $bits MSB bits, $mode"
            "$spatten" accuracy --model "models/$model" --workload "$w" --limit "$windows" |
                grep -E "^perplexity \(q|agreement"
        done
    done
done
