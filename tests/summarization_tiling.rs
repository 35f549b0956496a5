//! Summarization K/V tiling (sim/hw/tiling.rs, `Blocks`): a prompt pass whose keys exceed an
//! SRAM bank runs its query rows in blocks of `softmax.score_buffer_entries / (2 C)` rows,
//! each block streaming K and V once, tile by tile. Checked against the same heads on a
//! design point whose SRAM holds them (same work, more bytes), against the exact DRAM volume
//! and the QxK bound, single- and double-buffered, with grouped K/V heads, fast-forward on and
//! off, and the refusals of what it cannot run.

mod common;

use spatten::config::{self, ArchConfig};
use spatten::hw::{SimError, SimStats, dense_trace};
use spatten::trace::AttentionTrace;

/// 1500 keys of D = 64 (8-bit K/V): a bank of the paper's design point holds 1024, so the
/// second tile is partial.
const KEYS: u64 = 1500;

/// The paper's design point with every channel busy (see hw_sim's memory-bound test) and a
/// softmax buffer for blocks of `rows` query rows of 1500 keys.
fn arch(rows: u32) -> ArchConfig {
    let mut a = config::load_arch("spatten").unwrap();
    a.crossbar.requests_per_channel_per_cycle = 2;
    a.softmax.score_buffer_entries = 2 * rows * KEYS as u32;
    a
}

/// A dense summarization pass of `heads` GPT-2-shaped heads over `KEYS` tokens.
fn summarization(heads: u32) -> AttentionTrace {
    let w = common::gpt2_prompt(KEYS as u32, heads);
    let t = dense_trace(&w);
    assert!(
        t.head_calls.iter().all(|c| c.queries as u64 == KEYS
            && c.keys.len() as u64 == KEYS
            && c.key_msb_bits == 8)
    );
    t
}

fn run(arch: &ArchConfig, t: &AttentionTrace, fast_forward: bool) -> Result<SimStats, SimError> {
    common::simulate_simple(arch, t, fast_forward)
}

/// Runs with fast-forward on and off, checks both give the same statistics, returns them.
fn run_both(arch: &ArchConfig, t: &AttentionTrace) -> SimStats {
    common::simulate_simple_both(arch, t)
}

/// Bytes of one 8-bit K or V plane of `KEYS` rows of D = 64.
const PLANE: u64 = KEYS * 64;

#[test]
fn blocks_stream_k_and_v_once_each_and_do_the_untiled_work() {
    let t = summarization(2);
    // 7 rows a block: 215 blocks, the last of 2 rows.
    let a = arch(7);
    let s = run_both(&a, &t);
    let blocks = KEYS.div_ceil(7);
    assert_eq!(blocks, 215);
    let tiling = s.tiling.clone().expect("tiled");
    assert_eq!(
        (
            tiling.summarization_calls,
            tiling.query_blocks,
            tiling.max_block_rows
        ),
        (2, 2 * blocks, 7)
    );
    let b = &s.dram.bytes_by_tensor;
    assert_eq!(b.k_msb, 2 * blocks * PLANE);
    assert_eq!(b.v_msb, 2 * blocks * PLANE);
    // The same heads on SRAM that holds them: the same scores, MACs and softmax work.
    let mut big = a.clone();
    big.qk.key_sram_bytes *= 2;
    big.pv.value_sram_bytes *= 2;
    let whole = run(&big, &t, true).unwrap();
    assert_eq!(whole.dram.bytes_by_tensor.k_msb, 2 * PLANE);
    assert!(whole.tiling.is_none());
    assert_eq!(s.scores, whole.scores);
    assert_eq!(s.scores, 2 * KEYS * KEYS);
    assert_eq!(s.qk_macs, whole.qk_macs);
    assert_eq!(s.pv_macs, whole.pv_macs);
    // QxK bound: 8 scores a cycle (512 multipliers / D). The blocks' K/V streams (about
    // 9.6 MB, 19 k cycles at 512 B a cycle) hide under it, so the run stays within 5 % of
    // it, as the untiled one does.
    let bound = s.scores / 8;
    common::assert_near_bound(s.cycles, bound, 0.05);
    assert!((whole.cycles as f64) < 1.05 * bound as f64);
}

#[test]
fn one_row_blocks_single_buffered_are_bandwidth_bound_and_exact() {
    let t = summarization(1);
    let mut a = arch(1);
    // Single-buffered banks of 1024 rows: the next tile waits for the unit (a block's
    // partial second tile must not hold the next block's first back for ever).
    a.qk.double_buffered = false;
    a.pv.double_buffered = false;
    a.qk.key_sram_bytes /= 2;
    a.pv.value_sram_bytes /= 2;
    let s = run_both(&a, &t);
    assert_eq!(s.dram.bytes_by_tensor.k_msb, KEYS * PLANE);
    assert_eq!(s.dram.bytes_by_tensor.v_msb, KEYS * PLANE);
    // Every row streams all K and V: at least the bytes over the peak of 512 B a cycle.
    let bound = s.dram.bytes_read / 512;
    assert!(s.cycles >= bound, "{} < {bound}", s.cycles);
    assert!(s.cycles > KEYS * KEYS / 8);
}

#[test]
fn grouped_heads_stream_per_query_head_and_block() {
    let mut t = summarization(4);
    t.header.kv_heads = Some(1);
    let mut a = arch(50);
    // Interleaving serves generation groups only; summarization blocks stream per head.
    for interleave in [false, true] {
        a.controller.interleave_group_tiles = interleave;
        let s = run_both(&a, &t);
        let blocks = KEYS.div_ceil(50);
        assert_eq!(s.dram.bytes_by_tensor.k_msb, 4 * blocks * PLANE);
        let g = s.gqa.expect("grouped");
        assert_eq!(g.key_msb_bytes_fetched, s.dram.bytes_by_tensor.k_msb);
    }
}

#[test]
fn what_blocks_cannot_run_is_refused_with_the_key() {
    let t = summarization(1);
    // Two blocks of one row need 2 x 1500 entries.
    let mut a = arch(1);
    a.softmax.score_buffer_entries = 2999;
    let e = run(&a, &t, true).unwrap_err();
    assert!(
        matches!(&e, SimError::Config { key, .. } if key == "softmax.score_buffer_entries"),
        "{e}"
    );
    // Key and value tiles must line up.
    let mut a = arch(4);
    a.pv.value_sram_bytes *= 2;
    let e = run(&a, &t, true).unwrap_err().to_string();
    assert!(
        e.contains("pv.value_sram_bytes") && e.contains("qk.key_sram_bytes"),
        "{e}"
    );
    // No LSB recompute over key tiles.
    let mut t2 = t.clone();
    t2.head_calls[0].lsb_bits = 4;
    let e = run(&arch(4), &t2, true).unwrap_err();
    assert!(matches!(e, SimError::BadHeadCall { index: 0, .. }), "{e}");
    // (A generation row beyond the buffer: tests/score_spill.rs.)
}

#[test]
fn the_softmax_holds_two_blocks_so_qk_waits_for_a_slow_probxv() {
    // ProbxV at one probability a cycle (64 multipliers / D = 64) against QxK's eight: QxK
    // may run at most two blocks ahead (one summing, one leaving the softmax), so it spends
    // most of the run held by the softmax, and the run takes the ProbxV time.
    let t = summarization(1);
    let mut a = arch(7);
    a.pv.multipliers = 64;
    let s = run_both(&a, &t);
    let pv_bound = KEYS * KEYS;
    assert!(s.cycles >= pv_bound, "{} < {pv_bound}", s.cycles);
    let qk = &s.modules["qk"];
    assert!(qk.busy_cycles < s.cycles / 4, "{qk:?} of {}", s.cycles);
    // Held back by the softmax (with no bound on the blocks it holds, QxK would finish in
    // its first eighth and idle).
    assert!(
        qk.stalled_output_cycles > s.cycles / 2,
        "{qk:?} of {}",
        s.cycles
    );
}
