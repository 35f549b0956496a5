//! Hierarchical local-V selection (`topk_value.candidate_entries`, SPEC.md 6.4): an engine
//! holding fewer candidates than a row has keys ranks tiles of them, then the winners. The
//! kept V rows are the flat selection's; only the engine's work and its timing change.

mod common;

use spatten::config::{self, ArchConfig, WorkloadConfig};
use spatten::dram::simple::SimpleDram;
use spatten::experiment::{DramKind, Experiment, Input};
use spatten::hw::topk::{topk_call_comparisons, topk_call_cycles};
use spatten::hw::{SimError, SimOptions, SimStats, simulate};
use spatten::trace::trace_file::{decode_trace, encode_trace};
use spatten::trace::{AttentionTrace, TopkPurpose, TopkStage};

const ENTRIES: u32 = 128;

fn workload() -> WorkloadConfig {
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.name = "gpt2-hierarchical".into();
    w.model.layers = 2;
    w.stage.prompt_tokens = 600;
    w.stage.generated_tokens = 3;
    // About 60 of 600 keys kept: fewer than the engine holds, so tiles shrink.
    w.local_v.keep_ratio = 0.1;
    w
}

fn arch(entries: Option<u32>) -> ArchConfig {
    let mut a = config::load_arch("spatten").unwrap();
    a.topk_value.candidate_entries = entries;
    a
}

fn experiment(a: ArchConfig, w: &WorkloadConfig) -> Experiment {
    Experiment {
        name: w.name.clone(),
        arch: a,
        workload: Some(w.clone()),
        input: Input::Synthetic,
        dram: DramKind::Simple,
        timeline: false,
    }
}

fn trace_for(entries: Option<u32>) -> AttentionTrace {
    experiment(arch(entries), &workload())
        .build_trace(&mut |_| {})
        .unwrap()
}

fn sim(a: &ArchConfig, t: &AttentionTrace, fast_forward: bool) -> Result<SimStats, SimError> {
    let mut dram = SimpleDram::from_config(&a.hbm, a.fetcher.transaction_bytes);
    let options = SimOptions {
        fast_forward,
        ..SimOptions::default()
    };
    simulate(a, t, &mut dram, &options)
}

#[test]
fn hierarchical_selection_keeps_the_flat_selections_rows() {
    let (flat, tiled) = (trace_for(None), trace_for(Some(ENTRIES)));
    assert_eq!(tiled.header.value_topk_entries, Some(ENTRIES));
    // Every value, decision and kept row is the flat design's.
    assert_eq!(tiled.head_calls, flat.head_calls);
    assert_eq!(tiled.layers, flat.layers);
    assert_eq!(tiled.topk_calls.len(), flat.topk_calls.len());
    let mut hierarchical = 0;
    for (f, t) in flat.topk_calls.iter().zip(&tiled.topk_calls) {
        assert_eq!((f.purpose, f.n, f.k), (t.purpose, t.n, t.k));
        let plan = match t.purpose {
            TopkPurpose::LocalValue => TopkStage::plan(t.n, t.k, ENTRIES),
            _ => Vec::new(),
        };
        let stages: Vec<(u32, u32)> = t.stages.iter().map(|s| (s.n, s.k)).collect();
        assert_eq!(stages, plan);
        if t.stages.is_empty() {
            assert_eq!(t, f, "a selection that fits is the flat one");
        } else {
            hierarchical += 1;
            assert!(t.stages.iter().all(|s| s.n <= ENTRIES));
            let rounds: u32 = t.stages.iter().map(|s| s.rounds).sum();
            assert_eq!(rounds as usize, t.rounds.len());
        }
    }
    assert!(
        hierarchical > 0,
        "rows of about 360 keys outgrow 128 entries"
    );
}

#[test]
fn the_engine_is_charged_every_stage() {
    let t = trace_for(Some(ENTRIES));
    let a = arch(Some(ENTRIES));
    let s = sim(&a, &t, true).unwrap();
    assert_eq!(
        s,
        sim(&a, &t, false).unwrap(),
        "fast-forward changes nothing"
    );
    let value_calls: Vec<_> = t
        .topk_calls
        .iter()
        .filter(|c| c.purpose == TopkPurpose::LocalValue)
        .collect();
    let comparisons: u64 = value_calls.iter().map(|c| topk_call_comparisons(c)).sum();
    assert_eq!(s.topk.value_engine_comparisons, comparisons);
    let charged: u64 = value_calls
        .iter()
        .map(|c| topk_call_cycles(c, &a.topk_value))
        .sum();
    // Busy = every stage's cycles, with the input stream taking the place of each tile's
    // first round: at the input's rate, so at least the closed form.
    assert!(
        s.topk.value_engine_cycles >= charged,
        "busy {} < charged {charged}",
        s.topk.value_engine_cycles
    );

    // The same rows on the flat design: the engine's work differs by the stages alone.
    let flat = trace_for(None);
    let fa = arch(None);
    let f = sim(&fa, &flat, true).unwrap();
    let flat_charged: u64 = flat
        .topk_calls
        .iter()
        .filter(|c| c.purpose == TopkPurpose::LocalValue)
        .map(|c| topk_call_cycles(c, &fa.topk_value))
        .sum();
    let tiles: u64 = value_calls.iter().map(|c| c.stages.len() as u64).sum();
    let excess = |busy: u64, charged: u64| busy as i64 - charged as i64;
    let (e_tiled, e_flat) = (
        excess(s.topk.value_engine_cycles, charged),
        excess(f.topk.value_engine_cycles, flat_charged),
    );
    // Beats split at tile boundaries and each tile's rounded first round move the excess
    // by at most one cycle per stage.
    assert!(
        (e_tiled - e_flat).unsigned_abs() <= tiles,
        "excess {e_tiled} vs {e_flat} over {tiles} stages"
    );
    assert_eq!(s.pv_macs, f.pv_macs);
    assert_eq!(s.dram.bytes_by_tensor, f.dram.bytes_by_tensor);
}

#[test]
fn the_stages_round_trip_in_a_version_6_file() {
    let t = trace_for(Some(ENTRIES));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.safetensors");
    let c = encode_trace(&path, &t).unwrap();
    assert_eq!(c.metadata["version"], "6");
    assert_eq!(decode_trace(&path, &c).unwrap(), t);
    // A flat design's trace keeps its older version.
    let flat = trace_for(None);
    assert_ne!(encode_trace(&path, &flat).unwrap().metadata["version"], "6");

    // Stages that are not the plan of the header's engine are refused.
    let mut bad = t.clone();
    let i = bad
        .topk_calls
        .iter()
        .position(|c| !c.stages.is_empty())
        .unwrap();
    bad.topk_calls[i].stages.pop();
    let err = encode_trace(&path, &bad).unwrap_err().to_string();
    assert!(err.contains("value_topk_entries"), "{err}");
}

#[test]
fn a_trace_replays_only_on_its_engine() {
    let t = trace_for(Some(ENTRIES));
    let flat = trace_for(None);
    for (a, tr) in [
        (arch(None), &t),
        (arch(Some(ENTRIES)), &flat),
        (arch(Some(256)), &t),
    ] {
        match sim(&a, tr, true) {
            Err(SimError::Config { key, reason }) => {
                assert_eq!(key, "topk_value.candidate_entries", "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn an_engine_too_small_for_the_kept_rows_is_refused_before_the_reference() {
    // 600 + 3 tokens x 0.1 keeps up to 61 rows: an engine of 48 cannot shrink its tiles.
    let err = config::check_feasible(&arch(Some(48)), &workload()).unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("topk_value.candidate_entries"),
        "{err}"
    );
    assert!(config::check_feasible(&arch(Some(64)), &workload()).is_ok());

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    for (body, key) in [
        (
            "base = \"spatten\"\n[topk_token]\ncandidate_entries = 512\n",
            "topk_token.candidate_entries",
        ),
        (
            "base = \"spatten\"\n[topk_value]\ncandidate_entries = 1\n",
            "topk_value.candidate_entries",
        ),
    ] {
        std::fs::write(&bad, body).unwrap();
        let path = bad.to_str().unwrap();
        let (code, _, stderr) =
            common::spatten(&["run", "--workload", "bert-base", "--arch", path]);
        assert_eq!(code, 2);
        assert!(stderr.contains(key), "{stderr}");
    }
}

#[test]
fn spilled_rows_ranked_in_place_are_counted_and_an_engine_of_tiles_has_none() {
    // One decode step over 2,000 cached keys: rows stream in tiles and spill beyond 1,024
    // exponentials; local V keeps 10 % of them.
    let mut w = workload();
    w.stage.prompt_tokens = 2000;
    w.stage.generated_tokens = 1;
    w.stage.prefill = Some(spatten::config::workload::Prefill::Cached);
    let spilling = |entries: Option<u32>| {
        let mut a = arch(entries);
        a.softmax.score_buffer_entries = 1024;
        a.softmax.overflow = spatten::config::arch::ScoreOverflow::Spill;
        a
    };
    let run = |entries: Option<u32>| {
        let a = spilling(entries);
        let t = experiment(a.clone(), &w).build_trace(&mut |_| {}).unwrap();
        let s = sim(&a, &t, true).unwrap();
        let pruned = t
            .head_calls
            .iter()
            .filter(|c| c.value_topk.is_some())
            .count() as u64;
        (s, pruned)
    };
    let (in_place, pruned) = run(None);
    assert!(in_place.dram.score_spill.rows > 0);
    assert!(pruned > 0);
    assert_eq!(in_place.dram.score_spill.local_v_rows_in_place, pruned);
    let (tiles, _) = run(Some(512));
    assert_eq!(tiles.dram.score_spill.local_v_rows_in_place, 0);
    assert_eq!(tiles.dram.score_spill.rows, in_place.dram.score_spill.rows);
    assert!(tiles.topk.value_engine_comparisons > in_place.topk.value_engine_comparisons);
}

/// One generation head of `keys` keys keeping every tenth V row, its local-V selection as an
/// engine of `entries` candidates runs it (two rounds a quick-select, made up).
fn one_head(keys: u32, entries: Option<u32>) -> AttentionTrace {
    use spatten::trace::TopkCall;
    let values: Vec<u32> = (0..keys).filter(|t| t % 10 == 0).collect();
    let k = values.len() as u32;
    let plan = entries.map_or_else(Vec::new, |e| TopkStage::plan(keys, k, e));
    let stage_rounds = |n: u32, k: u32| if k < n { vec![n, n / 2] } else { vec![] };
    let (rounds, stages) = if plan.is_empty() {
        (stage_rounds(keys, k), Vec::new())
    } else {
        let stages: Vec<TopkStage> = plan
            .iter()
            .map(|&(n, k)| TopkStage {
                n,
                k,
                rounds: stage_rounds(n, k).len() as u32,
            })
            .collect();
        (
            plan.iter().flat_map(|&(n, k)| stage_rounds(n, k)).collect(),
            stages,
        )
    };
    let topk = TopkCall {
        purpose: TopkPurpose::LocalValue,
        n: keys,
        k,
        rounds,
        stages,
    };
    common::local_v_head(keys, values, topk, entries)
}

#[test]
fn the_engine_pauses_its_input_for_each_tile_exactly() {
    // 900 keys keeping 90 by an engine of 256: tiles 256, 256, 256, 132, then 256 and 104 of
    // the 360 winners, then 90 of 180.
    let (flat, tiled) = (one_head(900, None), one_head(900, Some(256)));
    assert_eq!(
        tiled.topk_calls[0]
            .stages
            .iter()
            .map(|s| (s.n, s.k))
            .collect::<Vec<_>>(),
        vec![
            (256, 90),
            (256, 90),
            (256, 90),
            (132, 90),
            (256, 90),
            (104, 90),
            (180, 90)
        ]
    );
    let (fa, ta) = (arch(None), arch(Some(256)));
    let (f, t) = (
        sim(&fa, &flat, true).unwrap(),
        sim(&ta, &tiled, true).unwrap(),
    );
    assert_eq!(t, sim(&ta, &tiled, false).unwrap());
    let p = ta.topk_value.comparators as i64;
    let full = |a: &ArchConfig, tr: &AttentionTrace| {
        topk_call_cycles(&tr.topk_calls[0], &a.topk_value) as i64
    };
    // Busy = the closed form, with the input's beats in place of each tile's first-round
    // streaming: the same beats (tiles are whole beats), so the two runs differ from their
    // closed forms by the input's rounding alone.
    let tiles: i64 = [256i64, 256, 256, 132]
        .iter()
        .map(|n| (n + p - 1) / p)
        .sum();
    let excess = |s: &SimStats, a: &ArchConfig, tr: &AttentionTrace| {
        s.topk.value_engine_cycles as i64 - full(a, tr)
    };
    assert_eq!(
        excess(&t, &ta, &tiled),
        excess(&f, &fa, &flat) + (900 + p - 1) / p - tiles
    );
    assert!(full(&ta, &tiled) > full(&fa, &flat));
    assert!(t.cycles > f.cycles);
    assert_eq!(t.dram.bytes_by_tensor, f.dram.bytes_by_tensor);
}
