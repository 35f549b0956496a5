//! Local V pruning with more kept values than the ProbxV FIFO holds.
//!
//! The filter pass streams the kept probabilities into the ProbxV FIFO while ProbxV needs
//! the kept V rows; those rows must be requested once the kept set is known (filter start),
//! not when the engine finishes, or a row longer than the FIFO deadlocks the pipeline.

mod common;

use spatten::config::{self, ArchConfig};
use spatten::dram::simple::SimpleDram;
use spatten::hw::{SimOptions, simulate};
use spatten::trace::attention::{AttentionTrace, TopkCall, TopkPurpose};

fn trace(keys: u32, kept: u32) -> AttentionTrace {
    let values: Vec<u32> = (0..keys)
        .filter(|t| t % keys.div_ceil(kept).max(1) == 0)
        .collect();
    let k = values.len() as u32;
    let topk = TopkCall {
        purpose: TopkPurpose::LocalValue,
        n: keys,
        k,
        rounds: vec![keys, keys / 2, keys / 4],
        stages: Vec::new(),
    };
    common::local_v_head(keys, values, topk, None)
}

#[test]
fn more_kept_values_than_the_probability_fifo_completes() {
    let arch: ArchConfig = config::load_arch("spatten").unwrap();
    let depth = arch.softmax.fifo_depth;
    let t = trace(900, 3 * depth);
    let kept = t.head_calls[0].values.len() as u64;
    assert!(kept > depth as u64);
    let mut dram = SimpleDram::from_config(&arch.hbm, arch.fetcher.transaction_bytes);
    let options = SimOptions {
        watchdog_cycles: 50_000,
        ..SimOptions::default()
    };
    let s = simulate(&arch, &t, &mut dram, &options).unwrap();
    assert_eq!(s.pv_macs, kept * 64);
    assert_eq!(s.dram.bytes_by_tensor.v_msb, kept * 64);
    assert_eq!(s.topk.value_calls, 1);
}
