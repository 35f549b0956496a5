//! Two-pass tiled summarization (`softmax.tiled_summarization = "two-pass"`, sim/hw/tiling.rs):
//! a prompt pass whose keys exceed an SRAM bank runs its query rows in blocks bounded by
//! per-row state, `(entries - 2 x key tile rows) / 2` rows, each block streaming K twice (an
//! online sum, then the probabilities) and V once. Checked against the exact DRAM volume, the
//! untiled call's work (QxK twice), the QxK bound, the buffered schedule on the same buffer,
//! fast-forward on and off, the trace's arithmetic (its header's key tile) and the refusals.

mod common;

use spatten::config::arch::TiledSummarization;
use spatten::config::workload::{QuantMode, StageKind};
use spatten::config::{self, ArchConfig};
use spatten::hw::{SimError, SimStats, dense_trace};
use spatten::trace::{AttentionTrace, ReferenceDesign};

/// 1500 keys of D = 64 (8-bit K/V): a bank of the paper's design point holds 1024, so the
/// second tile is partial.
const KEYS: u64 = 1500;
/// Key tile rows of the paper's design point at D = 64: 96 KiB banks of 96 B rows.
const TILE: u32 = 1024;
/// Bytes of one 8-bit K or V plane of `KEYS` rows of D = 64.
const PLANE: u64 = KEYS * 64;

/// The paper's design point with every channel busy, two-pass, with `entries` softmax entries.
fn arch(entries: u32) -> ArchConfig {
    let mut a = config::load_arch("spatten").unwrap();
    a.crossbar.requests_per_channel_per_cycle = 2;
    a.softmax.score_buffer_entries = entries;
    a.softmax.tiled_summarization = TiledSummarization::TwoPass;
    a
}

/// A dense summarization pass of `heads` GPT-2-shaped heads over `KEYS` tokens, its rows
/// summed online over key tiles of `tile` rows (as the reference records for a two-pass
/// design).
fn summarization(heads: u32, tile: Option<u32>) -> AttentionTrace {
    let w = common::gpt2_prompt(KEYS as u32, heads);
    let mut t = dense_trace(&w);
    t.header.softmax_key_tile_rows = tile;
    t
}

fn run(arch: &ArchConfig, t: &AttentionTrace, fast_forward: bool) -> Result<SimStats, SimError> {
    common::simulate_simple(arch, t, fast_forward)
}

/// Runs with fast-forward on and off, checks both give the same statistics, returns them.
fn run_both(arch: &ArchConfig, t: &AttentionTrace) -> SimStats {
    common::simulate_simple_both(arch, t)
}

#[test]
fn blocks_stream_k_twice_and_v_once_and_score_twice() {
    let t = summarization(2, Some(TILE));
    // 4096 entries: (4096 - 2 x 1024) / 2 = 1024 rows a block, so 2 blocks (1024 + 476).
    let a = arch(4096);
    let s = run_both(&a, &t);
    let tiling = s.tiling.clone().expect("tiled");
    assert_eq!(
        (
            tiling.summarization_calls,
            tiling.query_blocks,
            tiling.max_block_rows
        ),
        (2, 4, 1024)
    );
    let b = &s.dram.bytes_by_tensor;
    assert_eq!(b.k_msb, 2 * 2 * 2 * PLANE);
    assert_eq!(b.v_msb, 2 * 2 * PLANE);
    // The same heads on SRAM that holds them: QxK scores every key twice, ProbxV once.
    let mut big = a.clone();
    big.qk.key_sram_bytes *= 2;
    big.pv.value_sram_bytes *= 2;
    // (Its banks hold every key, so it sums exactly: the trace for it has no key tile.)
    let whole = run(&big, &summarization(2, None), true).unwrap();
    assert!(whole.tiling.is_none());
    assert_eq!(s.scores, 2 * whole.scores);
    assert_eq!(s.qk_macs, 2 * whole.qk_macs);
    assert_eq!(s.pv_macs, whole.pv_macs);
    // QxK bound: 8 scores a cycle over both passes; ProbxV runs beside the second pass, so
    // the run stays within 5 % of it.
    let bound = s.scores / 8;
    common::assert_near_bound(s.cycles, bound, 0.05);
}

#[test]
fn on_a_small_buffer_two_passes_trade_bytes_for_qk_work() {
    // 4096 entries hold the exponentials of one row of 1500 keys twice: the buffered schedule
    // runs blocks of 1 row, each streaming K and V (bandwidth-bound: 512 B a cycle); two
    // passes stream K twice and V once per block of 1024 rows and score every key twice
    // (QxK-bound: 8 scores a cycle). At D = 64 and 8-bit K/V the two bounds coincide
    // (keys / 4 cycles a row); the bytes differ 500-fold.
    let exact = summarization(1, None);
    let mut buffered = arch(4096);
    buffered.softmax.tiled_summarization = TiledSummarization::Buffered;
    let one = run(&buffered, &exact, true).unwrap();
    assert_eq!(one.dram.bytes_by_tensor.k_msb, KEYS * PLANE);
    assert!(one.cycles >= one.dram.bytes_read / 512);
    let two = run_both(&arch(4096), &summarization(1, Some(TILE)));
    let b = &two.dram.bytes_by_tensor;
    assert_eq!((b.k_msb, b.v_msb), (2 * 2 * PLANE, 2 * PLANE));
    assert_eq!(two.scores, 2 * one.scores);
    assert!(two.cycles >= two.scores / 8);
    assert!(two.dram.bytes_read * 400 < one.dram.bytes_read);
    let ratio = two.cycles as f64 / one.cycles as f64;
    assert!(
        (0.95..1.05).contains(&ratio),
        "{} vs {}",
        two.cycles,
        one.cycles
    );
}

#[test]
fn the_trace_must_be_summed_as_the_design_sums() {
    // A trace of exact sums on a two-pass design, and one summed over tiles on a buffered
    // design, are refused naming the key; so is a trace summed over other tiles.
    let e = run(&arch(4096), &summarization(1, None), true).unwrap_err();
    assert!(
        matches!(&e, SimError::Config { key, .. } if key == "softmax.tiled_summarization"),
        "{e}"
    );
    assert!(
        e.to_string().contains("spatten trace reference --arch"),
        "{e}"
    );
    let mut buffered = arch(4096);
    buffered.softmax.tiled_summarization = TiledSummarization::Buffered;
    let e = run(&buffered, &summarization(1, Some(TILE)), true).unwrap_err();
    assert!(matches!(&e, SimError::Config { key, .. } if key == "softmax.tiled_summarization"));
    let e = run(&arch(4096), &summarization(1, Some(512)), true).unwrap_err();
    assert!(matches!(&e, SimError::Config { key, .. } if key == "softmax.tiled_summarization"));
    let mut a = arch(4096);
    a.qk.key_sram_bytes = 2 * 96 * 1600;
    a.pv.value_sram_bytes = 2 * 96 * 1600;
    // Banks of 1600 rows hold every key (rows no longer than a tile sum alike either way):
    // nothing to refuse.
    run(&a, &summarization(1, None), true).unwrap();
}

#[test]
fn a_buffer_without_room_for_two_tile_rows_is_refused() {
    // One row needs 2 x 1024 scores of tile rows and its running max and sum: 2050 entries.
    let t = summarization(1, Some(TILE));
    run(&arch(2050), &t, true).unwrap();
    let e = run(&arch(2049), &t, true).unwrap_err();
    assert!(
        matches!(&e, SimError::Config { key, .. } if key == "softmax.score_buffer_entries"),
        "{e}"
    );
    assert!(e.to_string().contains("2050"), "{e}");
}

/// A two-layer, two-head GPT-2-shaped prompt pass over `KEYS` tokens with cascade token
/// pruning, static 8-bit K/V.
fn prompt_workload() -> config::WorkloadConfig {
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.model.layers = 2;
    w.model.heads = 2;
    w.model.hidden = 128;
    w.stage.kind = StageKind::Summarization;
    w.stage.prompt_tokens = KEYS as u32;
    w.stage.generated_tokens = 0;
    w.quant.mode = QuantMode::Static;
    w.quant.lsb_bits = 0;
    w
}

fn two_pass(tile: u32) -> ReferenceDesign {
    ReferenceDesign {
        softmax_key_tile_rows: Some(tile),
        ..Default::default()
    }
}

#[test]
fn the_reference_sums_online_only_over_more_than_one_tile() {
    use spatten::reference::{PruningState, attend_layer, run_workload_with_progress};
    use spatten::trace::{SynthKnobs, generate};
    let w = prompt_workload();
    let values = generate(&w, &SynthKnobs::for_workload(&w), w.seed);
    let exact =
        run_workload_with_progress(&values, &w, ReferenceDesign::default(), &|_, _| {}).unwrap();
    // One tile of every key: the exact sums, so the same trace but for the header's tile.
    let mut one =
        run_workload_with_progress(&values, &w, two_pass(KEYS as u32), &|_, _| {}).unwrap();
    assert_eq!(one.header.softmax_key_tile_rows, Some(KEYS as u32));
    one.header.softmax_key_tile_rows = None;
    assert_eq!(one, exact);
    let tiled = run_workload_with_progress(&values, &w, two_pass(256), &|_, _| {}).unwrap();
    assert_eq!(tiled.header.softmax_key_tile_rows, Some(256));

    // Layer 0's outputs: identical with one tile, close but not identical over six.
    let l = &values.layers[0];
    let out = |tile: Option<u32>| {
        let mut s = PruningState::new(&w);
        s.softmax_key_tile = tile;
        attend_layer(l.q.view(), l.k.view(), l.v.view(), 0, &mut s, &w)
            .unwrap()
            .output
    };
    let (e, o, t) = (out(None), out(Some(KEYS as u32)), out(Some(256)));
    assert_eq!(e, o);
    assert_ne!(e, t);
    let scale = e.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = e
        .iter()
        .zip(t.iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff <= 0.01 * scale, "{diff} of {scale}");
}

#[test]
fn a_workload_runs_end_to_end_on_a_two_pass_design() {
    use spatten::experiment::{DramKind, Experiment, Input};
    let w = prompt_workload();
    let e = Experiment {
        name: "two-pass".into(),
        arch: arch(4096),
        workload: Some(w),
        input: Input::Synthetic,
        dram: DramKind::Simple,
        timeline: false,
    };
    let r = e.run().unwrap();
    assert_eq!(r.trace.header.softmax_key_tile_rows, Some(TILE));
    let tiling = r.stats.tiling.clone().expect("tiled");
    assert!(tiling.summarization_calls > 0);
    // Every tiled call streams K twice per block, V once.
    let b = &r.stats.dram.bytes_by_tensor;
    assert_eq!(b.k_msb, 2 * b.v_msb);
}

#[test]
fn a_group_whose_heads_keep_different_keys_is_refused() {
    // Two query heads sharing one K/V head: the design tiles their shared rows, the
    // reference each head's own keys; they agree only when the heads keep the same keys.
    let mut t = summarization(2, Some(TILE));
    t.header.kv_heads = Some(1);
    let a = arch(4096);
    let s = run_both(&a, &t);
    assert_eq!(s.gqa.expect("grouped").kv_heads, 1);
    let c = &mut t.head_calls[1];
    c.keys.remove(3);
    c.values.remove(3);
    let e = run(&a, &t, true).unwrap_err();
    assert!(
        matches!(&e, SimError::Config { key, .. } if key == "softmax.tiled_summarization"),
        "{e}"
    );
    assert!(e.to_string().contains("keep different keys"), "{e}");
}
