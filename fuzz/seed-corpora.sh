#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the shipped files (run from the repository root).
set -euo pipefail
c=fuzz/corpus
mkdir -p $c/config_toml $c/containers $c/spatten_csv $c/run_tiny
n=0
# config_toml: the first byte picks the loader (0 arch, 1 workload, 2 sweep, 3 baseline).
for pair in "0:arch/*.toml" "1:workloads/*.toml workloads/benchmarks/*.toml" \
            "2:arch/sweeps/*.toml" "3:arch/baselines/*.toml"; do
    k=${pair%%:*}
    for f in ${pair#*:}; do
        n=$((n + 1))
        { printf "\\x0$k"; cat "$f"; } > "$c/config_toml/seed-$n"
    done
done
for f in arch/dram/*.toml; do
    n=$((n + 1))
    { printf '\x00name = "dram"\nbase = "spatten"\n'; cat "$f"; } > "$c/config_toml/seed-$n"
done
cp arch/*.toml "$c/run_tiny/"
# Small value and trace files (the audit's mutants are as good a start as any).
cp tests/fuzz-regressions/trace/*.st tests/fuzz-regressions/values/*.st "$c/containers/"
# The CSV seed of tests/fuzz_mutants.rs, in the public SpAtten layout.
printf '%s\n' \
    'iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,key_fetch_num,quant_key_bit,quant_query_bit,auto_requant_thres,if_requant,auto_requant_incre,value_fetch_num,quant_value_bit,if_accumulate_importance,if_rescale_previous_importance,if_topk,topk' \
    '0,0,0,64.0,40,40,-1,-1,-1,False,-1,40,-1,True,False,False,-1' \
    '0,0,1,64.0,40,40,-1,-1,-1,False,-1,30,-1,True,False,True,30' \
    '0,1,0,64.0,40,32,-1,-1,-1,False,-1,32,-1,True,False,False,-1' \
    '1,0,0,64.0,41,41,-1,-1,-1,False,-1,20,-1,True,False,True,20' \
    'configs/test/seed.yml,,,,,,,,,,,,,,,,' > "$c/spatten_csv/seed.csv"
echo "seeded $(find $c -type f | wc -l) files under $c"
