#!/usr/bin/env bash
# Long-context speed benchmark (README, "Long context"): one Llama-3-8B-shaped generation run
# (32 query heads sharing 8 K/V heads, head_dim 128) per context length and generated-token
# count, the prompt's KV cache taken as filled (prefill = "cached"), on
# arch/spatten-long-context.toml. Prints a markdown table of simulated cycles, simulated
# cycles per wall second, DRAM bytes read, wall time and peak RSS (GNU time; python3 reads
# stats.json). The shape is llama-3.1-8b-128k's
# (the llama-3-8b preset stops at its 8k context); the values and dataflow are Llama-3-8B's.
#
# Usage: scripts/bench_long_context.sh [SPATTEN] [LAYERS] [CONTEXTS] [GENERATED]
#   LAYERS     layers per run (default 32, the whole model; fewer measure a slice)
#   CONTEXTS   space-separated context lengths C (default "4096 16384 65536 131072")
#   GENERATED  space-separated generated-token counts G (default "1 8"); the prompt is C - G
set -euo pipefail
cd "$(dirname "$0")/.."
spatten="${1:-target/release/spatten}"
layers="${2:-32}"
contexts="${3:-4096 16384 65536 131072}"
generated="${4:-1 8}"
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time (Debian: apt install time)" >&2; exit 2; }
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
echo "| context C | generated G | layers | simulated cycles | DRAM read | cycles/s | wall | peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
for c in $contexts; do
    for g in $generated; do
        w="$dir/c$c-g$g.toml"
        cat >"$w" <<TOML
base = "llama-3.1-8b-128k"
name = "llama-3-8b-c$c-g$g"
[model]
layers = $layers
[stage]
kind = "generation"
prompt_tokens = $((c - g))
generated_tokens = $g
prefill = "cached"
TOML
        out="$dir/out-c$c-g$g"
        /usr/bin/time -v -o "$dir/time" "$spatten" run --quiet --arch arch/spatten-long-context.toml \
            --workload "$w" --out "$out" --max-memory 16G >/dev/null
        read -r cycles dram_mb < <(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["cycles"], round(d["dram"]["bytes_read"] / 1e6))' "$out/stats.json")
        wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time")"
        rss_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time")"
        secs="$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }')"
        rate="$(awk -v c="$cycles" -v s="$secs" 'BEGIN { printf "%.2f M", c / s / 1e6 }')"
        rss="$(awk -v k="$rss_kb" 'BEGIN { printf "%.2f GB", k * 1024 / 1e9 }')"
        echo "| $c | $g | $layers | $cycles | $dram_mb MB | $rate | $wall | $rss |"
    done
done
