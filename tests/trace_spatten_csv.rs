//! Import of the public SpAtten CSV traces: all five shipped files, checked against sums
//! taken independently from the raw CSV, plus the index rule, the round model and bad rows.

mod common;

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::trace::spatten_csv::{self, modelled_rounds, token_ranks};
use spatten::trace::totals::totals;
use spatten::trace::{TopkPurpose, TraceError, read_trace, write_trace};

fn trace_file(name: &str) -> PathBuf {
    common::data("data/spatten-traces").join(name)
}

/// Sums over the raw CSV rows, parsed with the `csv` crate (independent of the importer).
#[derive(Debug, Default, PartialEq)]
struct RawSums {
    rows: u64,
    keys: u64,
    values: u64,
    requant: u64,
    topk: u64,
    local_v: u64,
    accumulate: u64,
    unquantized_key_rows: u64,
}

fn raw_sums(path: &Path) -> RawSums {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let mut s = RawSums::default();
    for rec in r.records() {
        let rec = rec.unwrap();
        if rec.get(1).unwrap_or("").is_empty() {
            continue; // the trailing config line
        }
        let n = |i: usize| rec[i].parse::<i64>().unwrap();
        s.rows += 1;
        s.keys += n(5) as u64;
        s.values += n(11) as u64;
        let unquantized_kv = n(6) == -1 || n(12) == -1;
        // An unquantized K/V is the 12-bit word as 8 MSBs + 4 LSBs, always refetched.
        s.requant += (&rec[9] == "True" || unquantized_kv) as u64;
        s.topk += (&rec[15] == "True") as u64;
        s.local_v += (n(11) < n(5)) as u64;
        s.accumulate += (&rec[13] == "True") as u64;
        s.unquantized_key_rows += unquantized_kv as u64;
    }
    s
}

fn check_file(name: &str) -> spatten::trace::AttentionTrace {
    let path = trace_file(name);
    let t = spatten_csv::import(&path).unwrap_or_else(|e| panic!("{e}"));
    let raw = raw_sums(&path);
    let tot = totals(&t);
    let got = RawSums {
        rows: tot.head_calls,
        keys: tot.keys_fetched,
        values: tot.values_fetched,
        requant: tot.lsb_refetches,
        topk: tot.topk_token_calls,
        local_v: tot.topk_local_value_calls,
        accumulate: t
            .head_calls
            .iter()
            .filter(|c| c.accumulate_importance)
            .count() as u64,
        unquantized_key_rows: t
            .head_calls
            .iter()
            .filter(|c| {
                (c.key_msb_bits, c.value_msb_bits, c.lsb_bits) == (8, 8, 4) && c.lsb_refetch
            })
            .count() as u64,
    };
    assert_eq!(got, raw, "{name}");
    // Every call fetches the newest token, and its keys are the best-ranked ones.
    for c in &t.head_calls {
        let l = t.header.prompt_tokens + c.iteration;
        assert_eq!(*c.keys.last().unwrap(), l - 1);
        assert!(c.values.is_empty() || *c.values.last().unwrap() == l - 1);
    }
    // The file round-trips through the trace format.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.safetensors");
    write_trace(&out, &t).unwrap();
    assert_eq!(read_trace(&out).unwrap(), t);
    t
}

#[test]
#[cfg_attr(
    not(data_spatten_traces),
    ignore = "needs the SpAtten CSV traces (see data/README.md)"
)]
fn small_csv() {
    let t = spatten_csv::import(&trace_file("small.csv")).unwrap();
    assert_eq!(t.head_calls.len(), 1);
    let c = &t.head_calls[0];
    assert_eq!(
        (t.header.prompt_tokens, t.header.generated_tokens),
        (992, 1)
    );
    assert_eq!((c.iteration, c.keys.len(), c.values.len()), (1, 993, 993));
    // -1 bit widths are unquantized: Q is the 12-bit word, K and V the word as 8 MSBs and 4
    // LSBs that are always refetched, so nothing exceeds the datapath.
    assert_eq!(
        (c.query_bits, c.key_msb_bits, c.value_msb_bits, c.lsb_bits),
        (12, 8, 8, 4)
    );
    assert!(c.lsb_refetch);
    assert!(t.header.source.contains("medium_baseline_train+eval.yml"));
    assert_eq!(check_file("small.csv"), t);
}

#[test]
#[cfg_attr(
    not(data_spatten_traces),
    ignore = "needs the SpAtten CSV traces (see data/README.md)"
)]
fn gpt2_medium_ptb() {
    check_file("summary-gpt2-medium-ptb-per0.csv");
}

#[test]
#[cfg_attr(
    not(data_spatten_traces),
    ignore = "needs the SpAtten CSV traces (see data/README.md)"
)]
fn gpt2_medium_pruned_quantized() {
    let name = "summary-gpt2-medium-wikitext2-per0-hp-step5+dedic+glob_p+local_p+hp+topk+quant.csv";
    let t = check_file(name);
    // Head pruning shows as fewer heads in the next layer: 16 -> 13 -> 10, once per iteration.
    let heads: Vec<_> = t
        .topk_calls
        .iter()
        .filter(|c| c.purpose == TopkPurpose::Head)
        .map(|c| (c.n, c.k))
        .collect();
    assert_eq!(heads.len(), 64);
    assert!(heads.iter().all(|&hk| hk == (16, 13) || hk == (13, 10)));
    let c = &t.head_calls[0];
    assert_eq!(
        (c.query_bits, c.key_msb_bits, c.value_msb_bits),
        (16, 12, 8)
    );
}

#[test]
#[cfg_attr(
    not(data_spatten_traces),
    ignore = "needs the SpAtten CSV traces (see data/README.md)"
)]
fn gpt2_small_dense() {
    check_file("summary-gpt2-small-wikitext2-per8-step1+dedic.csv");
}

#[test]
#[cfg_attr(
    not(data_spatten_traces),
    ignore = "needs the SpAtten CSV traces (see data/README.md)"
)]
fn gpt2_small_pruned_progressive() {
    let name = "summary-gpt2-small-wikitext2-per8.csv";
    let t = check_file(name);
    assert!(t.header.source.contains("requant_threshold=0.05"));
    // End-of-iteration pruning keeps 921 of all L tokens although only 102 were fetched.
    let last = t
        .layers
        .iter()
        .find(|r| r.iteration == 2 && r.layer == 11)
        .unwrap();
    let call = &t.topk_calls[last.token_topk.unwrap() as usize];
    assert_eq!((call.n, call.k, last.tokens_kept.len()), (994, 921, 921));
    let refetch = t.head_calls.iter().find(|c| c.lsb_refetch).unwrap();
    assert_eq!((refetch.lsb_bits, refetch.requant_rows), (4, 1));
}

#[test]
fn index_rule_nests_and_spreads() {
    for l in [1u32, 2, 3, 17, 993, 1024] {
        let r = token_ranks(l);
        let mut sorted = r.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..l).collect::<Vec<_>>(),
            "ranks are a permutation"
        );
        assert_eq!(r[l as usize - 1], 0, "newest token first");
        for k in 2..=l {
            let kept: Vec<u32> = (0..l).filter(|&p| r[p as usize] < k).collect();
            let mut gap = kept[0] + 1;
            for w in kept.windows(2) {
                gap = gap.max(w[1] - w[0]);
            }
            // Within 3x of the ideal spacing l / k.
            assert!(
                gap as u64 * k as u64 <= 3 * l as u64,
                "l {l} k {k} gap {gap}"
            );
        }
    }
}

/// Quick-select on real distinct scores, drawing each pivot as the i-th largest of the
/// current FIFO with the same random i; returns round sizes and the selected set.
fn array_quickselect(scores: &[u32], k: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
    let mut fifo = scores.to_vec();
    let mut target = k;
    let mut rounds = Vec::new();
    let kth;
    loop {
        rounds.push(fifo.len() as u32);
        let mut sorted = fifo.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let pivot = sorted[rng.gen_range(0..fifo.len() as u32) as usize];
        let greater: Vec<u32> = fifo.iter().copied().filter(|&x| x > pivot).collect();
        let less: Vec<u32> = fifo.iter().copied().filter(|&x| x < pivot).collect();
        if greater.len() < target {
            target -= greater.len() + 1;
            if target == 0 {
                kth = pivot;
                break;
            }
            fifo = less;
        } else if greater.len() > target {
            fifo = greater;
        } else {
            // The pivot is just below the k kept elements.
            kth = *greater.iter().min().unwrap();
            break;
        }
    }
    (
        rounds,
        scores.iter().copied().filter(|&x| x >= kth).collect(),
    )
}

#[test]
fn modelled_rounds_match_a_real_quickselect() {
    let mut perm_rng = ChaCha8Rng::seed_from_u64(9);
    for case in 0..300u64 {
        let n = perm_rng.gen_range(2..400u32);
        let k = perm_rng.gen_range(1..n);
        let mut scores: Vec<u32> = (0..n).collect();
        for i in (1..scores.len()).rev() {
            scores.swap(i, perm_rng.gen_range(0..=i));
        }
        let mut a = ChaCha8Rng::seed_from_u64(case);
        let mut b = a.clone();
        let modelled = modelled_rounds(n, k, &mut a);
        let (rounds, kept) = array_quickselect(&scores, k as usize, &mut b);
        assert_eq!(modelled, rounds, "n {n} k {k}");
        let mut by_sort = scores.clone();
        by_sort.sort_unstable_by(|x, y| y.cmp(x));
        let mut kept_sorted = kept.clone();
        kept_sorted.sort_unstable_by(|x, y| y.cmp(x));
        assert_eq!(
            kept_sorted,
            by_sort[..k as usize],
            "quick-select keeps the top k"
        );
    }
    assert!(modelled_rounds(5, 5, &mut ChaCha8Rng::seed_from_u64(0)).is_empty());
    assert!(modelled_rounds(5, 0, &mut ChaCha8Rng::seed_from_u64(0)).is_empty());
}

const HEADER: &str = "iteration_id,layer_id,head_id,embedding_length_D,sentence_length_L,key_fetch_num,quant_key_bit,quant_query_bit,auto_requant_thres,if_requant,auto_requant_incre,value_fetch_num,quant_value_bit,if_accumulate_importance,if_rescale_previous_importance,if_topk,topk";
const GOOD: &str = "0,0,0,64.0,9,9,8,16,0.1,True,4,3,8,True,False,False,-1";

fn import_text(body: &str) -> Result<spatten::trace::AttentionTrace, TraceError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    std::fs::write(&p, body).unwrap();
    spatten_csv::import(&p)
}

fn csv_error(body: &str) -> (u64, String) {
    match import_text(body) {
        Err(TraceError::Csv { line, reason, path }) => {
            assert!(path.ends_with("t.csv"));
            (line, reason)
        }
        other => panic!("expected a CSV error, got {other:?}"),
    }
}

#[test]
fn config_line_is_tolerated_only_at_the_end() {
    let t = import_text(&format!(
        "{HEADER}\n{GOOD}\nconfigs/x.yml,,,,,,,,,,,,,,,,\n"
    ))
    .unwrap();
    assert!(t.header.source.contains("config=configs/x.yml"));
    assert_eq!(t.head_calls[0].keys, vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(t.head_calls[0].values, vec![0, 4, 8]);
    let (line, reason) = csv_error(&format!(
        "{HEADER}\nconfigs/x.yml,,,,,,,,,,,,,,,,\n{GOOD}\n"
    ));
    assert_eq!(line, 2, "{reason}");
}

#[test]
fn unquantized_widths_fit_the_datapath_word() {
    // Regression: -1 used to import as 16 bits, above the 12-bit word, and the negative
    // "saved by quantization" then aborted `spatten run --trace` after the simulation.
    let row = "0,0,0,64.0,9,9,-1,-1,-1,False,-1,9,-1,True,False,False,-1";
    let t = import_text(&format!("{HEADER}\n{row}\n")).unwrap();
    let c = &t.head_calls[0];
    assert_eq!(
        (
            c.query_bits,
            c.key_msb_bits,
            c.value_msb_bits,
            c.lsb_bits,
            c.lsb_refetch
        ),
        (12, 8, 8, 4, true)
    );
    let steps = spatten::trace::savings::TrafficSteps::of(&t, 12);
    // Regression: dense counts only the iterations the trace has (here iteration 1, 9 keys,
    // one head, one layer), not a prompt pass that an imported trace never ran.
    assert_eq!(steps.dense_bits, 9.0 * 64.0 * 12.0 * 2.0);
    for (technique, saved) in steps.savings() {
        assert!(saved >= 0.0, "{technique}: {saved}");
    }
}

#[test]
fn baselines_of_an_imported_trace_leave_out_the_prompt_it_never_ran() {
    // Regression: the baselines of a generation trace without iteration 0 were charged the
    // whole 992-token prompt, inflating trace speedups 1.7x-7.5x.
    let row = "0,0,0,64.0,993,993,8,16,-1,False,-1,993,8,True,False,False,-1";
    let t = import_text(&format!("{HEADER}\n{row}\n")).unwrap();
    let w = spatten::experiment::dense_workload_for(&t.header);
    let arch = spatten::config::load_arch("spatten").unwrap();
    let r = spatten::experiment::evaluate(
        "t",
        &arch,
        &w,
        t,
        "test",
        spatten::dram::backend::DramKind::Simple,
        false,
        &mut |_| {},
    )
    .unwrap();
    assert!(!r.baselines.is_empty());
    for b in &r.baselines {
        let stages: Vec<_> = b.stages.iter().map(|s| s.stage.label()).collect();
        assert_eq!(stages, ["generation"], "{}", b.device);
        // One generated token attending to 993 keys, one layer, one head: QxK, softmax, PxV.
        assert_eq!(b.total_ops(), 2 * 2 * 993 * 64 + 4 * 993, "{}", b.device);
    }
}

#[test]
fn malformed_rows_name_their_line() {
    let bad = |row: &str| csv_error(&format!("{HEADER}\n{GOOD}\n{row}\n"));
    let cases = [
        ("0,0,1,64.0,9,9,8,16", "fields"),
        (
            "0,0,1,64.0,9,9,8,16,0.1,Yes,4,3,8,True,False,False,-1",
            "if_requant",
        ),
        (
            "0,0,1,64.0,9,9,17,16,0.1,True,4,3,8,True,False,False,-1",
            "quant_key_bit",
        ),
        (
            "0,0,1,64.0,9,9,16,16,0.1,False,-1,3,8,True,False,False,-1",
            "quant_key_bit = \"16\": expected a bit width in 1..=12",
        ),
        (
            "0,0,1,64.0,9,9,10,16,0.1,True,4,3,8,True,False,False,-1",
            "MSB 10 + LSB 4 bits exceed the 12-bit datapath word",
        ),
        (
            "0,0,1,64.0,9,9,8,16,0.1,True,4,10,8,True,False,False,-1",
            "value_fetch_num 10 exceeds",
        ),
        (
            "0,0,1,64.0,9,10,8,16,0.1,True,4,3,8,True,False,False,-1",
            "key_fetch_num 10 exceeds",
        ),
        (
            "0,0,1,64.5,9,9,8,16,0.1,True,4,3,8,True,False,False,-1",
            "embedding_length_D",
        ),
        (
            "0,0,1,64.0,9,9,8,16,0.1,True,4,3,8,True,False,True,-1",
            "topk",
        ),
        (
            "0,0,1,64.0,9,9,8,16,0.1,True,4,3,8,True,False,False,5",
            "topk",
        ),
        (
            "0,x,1,64.0,9,9,8,16,0.1,True,4,3,8,True,False,False,-1",
            "layer_id",
        ),
        (
            "0,0,0,64.0,9,9,8,16,0.1,True,4,3,8,True,False,False,-1",
            "does not follow",
        ),
        (
            "1,0,0,64.0,9,9,8,16,0.1,True,4,3,8,True,False,False,-1",
            "sentence_length_L 9",
        ),
        (
            "0,0,1,32.0,9,9,8,16,0.1,True,4,3,8,True,False,False,-1",
            "embedding_length_D 32",
        ),
        (
            "0,0,1,64.0,9,9,8,16,0.1,True,-1,3,8,True,False,False,-1",
            "no LSBs",
        ),
        (
            "0,0,1,64.0,9,9,8,16,2.0,True,4,3,8,True,False,False,-1",
            "auto_requant_thres",
        ),
    ];
    for (row, what) in cases {
        let (line, reason) = bad(row);
        assert_eq!(line, 3, "{row}: {reason}");
        assert!(reason.contains(what), "{row}: {reason}");
    }
    let (line, reason) = csv_error("a,b,c\n");
    assert_eq!(line, 1, "{reason}");
    let (line, _) = csv_error("");
    assert_eq!(line, 1);
    let (_, reason) = csv_error(&format!("{HEADER}\n"));
    assert!(reason.contains("no data rows"));
    let missing = spatten_csv::import(Path::new("/nonexistent/x.csv")).unwrap_err();
    assert!(matches!(missing, TraceError::Io { .. }));
}

#[test]
fn hostile_sizes_are_rejected_not_allocated() {
    let (line, reason) = csv_error(&format!(
        "{HEADER}\n0,0,0,64.0,4000000000,1,8,16,0.1,False,4,1,8,True,False,False,-1\n"
    ));
    assert_eq!(line, 2);
    assert!(reason.contains("exceeds the supported"), "{reason}");
    let (_, reason) = csv_error(&format!(
        "{HEADER}\n0,4294967295,0,64.0,9,9,8,16,0.1,False,4,1,8,True,False,False,-1\n"
    ));
    assert!(reason.contains("ids must be below"), "{reason}");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const TOKENS: [&str; 14] = [
        "0", "1", "-1", "64.0", "9", "True", "False", "", "x", "0.05", "4", "993", "16", "8",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Any mix of plausible and implausible fields: a trace or an error, never a panic.
        #[test]
        fn never_panics(rows in prop::collection::vec(prop::collection::vec(0..TOKENS.len(), 15..19), 0..6)) {
            let mut body = format!("{HEADER}\n");
            for r in rows {
                let fields: Vec<&str> = r.iter().map(|&i| TOKENS[i]).collect();
                body.push_str(&fields.join(","));
                body.push('\n');
            }
            let _ = import_text(&body);
        }
    }
}
