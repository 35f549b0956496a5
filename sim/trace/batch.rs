//! Batches of independent sequences (`stage.batch`): each sequence is its own reference run,
//! with its own values (seed [`sequence_seed`]), pruning decisions and KV cache, and the
//! batch's trace interleaves them layer by layer, the order a serving accelerator runs them in:
//! for every (iteration, layer), each sequence's heads in turn, then the next layer. Sequence
//! 0 is the one-sequence run of the workload, byte for byte.

use super::attention::{AttentionTrace, HeadCall, LayerRecord};
use crate::config::WorkloadConfig;

/// The seed of sequence `sequence` of a batch of `seed`: `seed` itself for sequence 0, so a
/// batch's first sequence is the unbatched workload; a SplitMix64 draw (kept to 63 bits, as
/// workload seeds are TOML integers) for the others.
pub fn sequence_seed(seed: u64, sequence: u32) -> u64 {
    if sequence == 0 {
        return seed;
    }
    let mut z = seed.wrapping_add(u64::from(sequence).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) >> 1
}

/// The one-sequence workload that sequence `sequence` of `batched` runs.
pub fn sequence_workload(batched: &WorkloadConfig, sequence: u32) -> WorkloadConfig {
    let mut w = batched.clone();
    w.stage.batch = 1;
    w.seed = sequence_seed(batched.seed, sequence);
    w
}

/// Runs `one(s, w)` for every sequence `s` of `workload`'s batch (`w` its
/// [`sequence_workload`]) and merges the traces; a batch of one is `one(0, workload)`.
pub fn run_batch<E>(
    workload: &WorkloadConfig,
    mut one: impl FnMut(u32, &WorkloadConfig) -> Result<AttentionTrace, E>,
) -> Result<AttentionTrace, E> {
    let batch = workload.stage.batch;
    if batch <= 1 {
        return one(0, workload);
    }
    let traces = (0..batch)
        .map(|s| one(s, &sequence_workload(workload, s)))
        .collect::<Result<Vec<_>, E>>()?;
    Ok(merge(traces))
}

/// One trace of the sequences' traces (one sequence each, of one shape), sequence `s` being
/// `traces[s]`: calls and records in (iteration, layer, sequence) order, each sequence's top-k
/// calls after the previous one's, the header the first one's with the batch size.
pub fn merge(traces: Vec<AttentionTrace>) -> AttentionTrace {
    assert!(!traces.is_empty(), "a batch has at least one sequence");
    let batch = traces.len() as u32;
    let mut header = traces[0].header.clone();
    header.batch = (batch > 1).then_some(batch);
    let mut merged = AttentionTrace {
        header,
        head_calls: Vec::with_capacity(traces.iter().map(|t| t.head_calls.len()).sum()),
        layers: Vec::with_capacity(traces.iter().map(|t| t.layers.len()).sum()),
        topk_calls: Vec::new(),
    };
    let mut calls = Vec::with_capacity(traces.len());
    let mut records = Vec::with_capacity(traces.len());
    for (s, t) in traces.into_iter().enumerate() {
        let offset = merged.topk_calls.len() as u32;
        let shift = |i: Option<u32>| i.map(|i| i + offset);
        merged.topk_calls.extend(t.topk_calls);
        let s = s as u32;
        calls.push(
            t.head_calls
                .into_iter()
                .map(|c| HeadCall {
                    sequence: s,
                    value_topk: shift(c.value_topk),
                    ..c
                })
                .collect::<Vec<_>>()
                .into_iter()
                .peekable(),
        );
        records.push(
            t.layers
                .into_iter()
                .map(|r| LayerRecord {
                    sequence: s,
                    token_topk: shift(r.token_topk),
                    head_topk: shift(r.head_topk),
                    ..r
                })
                .collect::<Vec<_>>()
                .into_iter()
                .peekable(),
        );
    }
    // Every sequence has the same (iteration, layer) steps; each step takes every sequence's
    // calls of it, then its record.
    loop {
        let next = calls
            .iter_mut()
            .filter_map(|c| c.peek().map(|c| (c.iteration, c.layer)))
            .chain(
                records
                    .iter_mut()
                    .filter_map(|r| r.peek().map(|r| (r.iteration, r.layer))),
            )
            .min();
        let Some(step) = next else { break };
        for c in &mut calls {
            while let Some(call) = c.next_if(|c| (c.iteration, c.layer) == step) {
                merged.head_calls.push(call);
            }
        }
        for r in &mut records {
            if let Some(rec) = r.next_if(|r| (r.iteration, r.layer) == step) {
                merged.layers.push(rec);
            }
        }
    }
    merged
}
