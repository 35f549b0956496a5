//! Local V pruning with more kept values than the ProbxV FIFO holds.
//!
//! The filter pass streams the kept probabilities into the ProbxV FIFO while ProbxV needs
//! the kept V rows; those rows must be requested once the kept set is known (filter start),
//! not when the engine finishes, or a row longer than the FIFO deadlocks the pipeline.

use spatten::config::workload::StageKind;
use spatten::config::{self, ArchConfig};
use spatten::dram::simple::SimpleDram;
use spatten::hw::{SimOptions, simulate};
use spatten::trace::attention::{
    AttentionTrace, HeadCall, LayerRecord, TopkCall, TopkPurpose, TraceHeader,
};

fn trace(keys: u32, kept: u32) -> AttentionTrace {
    let all: Vec<u32> = (0..keys).collect();
    let values: Vec<u32> = (0..keys)
        .filter(|t| t % keys.div_ceil(kept).max(1) == 0)
        .collect();
    let k = values.len() as u32;
    AttentionTrace {
        header: TraceHeader {
            workload: "local-v".into(),
            source: "test".into(),
            layers: 1,
            heads: 1,
            head_dim: 64,
            stage: StageKind::Generation,
            prompt_tokens: keys - 1,
            generated_tokens: 1,
            seed: 0,
            kv_heads: None,
            softmax_key_tile_rows: None,
            batch: None,
            value_topk_entries: None,
        },
        head_calls: vec![HeadCall {
            sequence: 0,
            iteration: 1,
            layer: 0,
            head: 0,
            queries: 1,
            query_bits: 12,
            keys: all.clone(),
            values,
            key_msb_bits: 8,
            value_msb_bits: 8,
            lsb_bits: 0,
            requant_rows: 0,
            lsb_refetch: false,
            accumulate_importance: true,
            value_topk: Some(0),
        }],
        layers: vec![LayerRecord {
            sequence: 0,
            iteration: 1,
            layer: 0,
            tokens_kept: all,
            heads_kept: vec![0],
            token_topk: None,
            head_topk: None,
        }],
        topk_calls: vec![TopkCall {
            purpose: TopkPurpose::LocalValue,
            n: keys,
            k,
            rounds: vec![keys, keys / 2, keys / 4],
            stages: Vec::new(),
        }],
    }
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
