#!/usr/bin/env bash
# Submits a sweep as a Slurm job array of N shards plus a merge job that runs when all
# shards succeed. Prints the two job ids.
#
#   scripts/slurm/submit.sh SPEC OUT N [extra sbatch options...]
#
# The merged results land in OUT/merged. SPATTEN names the binary (default: spatten on PATH).
set -euo pipefail

spec=${1:?usage: submit.sh SPEC OUT N [sbatch options...]}
out=${2:?usage: submit.sh SPEC OUT N [sbatch options...]}
n=${3:?usage: submit.sh SPEC OUT N [sbatch options...]}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
spatten=${SPATTEN:-spatten}
mkdir -p "$out/logs"

array=$(sbatch --parsable --array="0-$((n - 1))" --output="$out/logs/shard-%a.out" \
    --export=ALL,SPATTEN="$spatten" "$@" "$here/sweep.sbatch" "$spec" "$out")
shards=$(for ((i = 0; i < n; i++)); do printf '%s ' "$out/shard-$i"; done)
merge=$(sbatch --parsable --dependency="afterok:$array" --output="$out/logs/merge.out" "$@" \
    --job-name=spatten-merge --wrap "\"$spatten\" sweep merge $shards --out \"$out/merged\"")
echo "array job $array, merge job $merge"
