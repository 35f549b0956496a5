//! A dense (no pruning, no refetch) attention trace for a workload's shape: the "no
//! pruning" baseline and a closed-form test input.

use crate::config::WorkloadConfig;
use crate::config::workload::StageKind;
use crate::trace::attention::{AttentionTrace, HeadCall, LayerRecord, TraceHeader};

/// Every head of every layer, all tokens: iteration 0 summarizes the prompt (all query rows
/// against all prompt keys); in generation, iteration i >= 1 has one query against the
/// prompt + i keys. K and V are fetched with the workload's MSB width and never refetched;
/// queries are fetched at the full quantized width (MSB + LSB bits).
/// A batch (`stage.batch`) has that trace per sequence.
pub fn dense_trace(workload: &WorkloadConfig) -> AttentionTrace {
    let one = |_, w: &WorkloadConfig| Ok::<_, std::convert::Infallible>(dense_sequence(w));
    match crate::trace::batch::run_batch(workload, one) {
        Ok(t) => t,
        Err(never) => match never {},
    }
}

fn dense_sequence(workload: &WorkloadConfig) -> AttentionTrace {
    let m = &workload.model;
    let s = &workload.stage;
    let q = &workload.quant;
    let iterations = match s.kind {
        StageKind::Summarization => 0,
        StageKind::Generation => s.generated_tokens,
    };
    let mut head_calls = Vec::new();
    let mut layers = Vec::new();
    for iteration in 0..=iterations {
        let tokens = if iteration == 0 {
            s.prompt_tokens
        } else {
            s.prompt_tokens + iteration
        };
        let all: Vec<u32> = (0..tokens).collect();
        for layer in 0..m.layers {
            for head in 0..m.heads {
                head_calls.push(HeadCall {
                    sequence: 0,
                    iteration,
                    layer,
                    head,
                    queries: if iteration == 0 { tokens } else { 1 },
                    query_bits: (q.msb_bits + q.lsb_bits) as u8,
                    keys: all.clone(),
                    values: all.clone(),
                    key_msb_bits: q.msb_bits as u8,
                    value_msb_bits: q.msb_bits as u8,
                    lsb_bits: 0,
                    requant_rows: 0,
                    lsb_refetch: false,
                    accumulate_importance: false,
                    value_topk: None,
                });
            }
            layers.push(LayerRecord {
                sequence: 0,
                iteration,
                layer,
                tokens_kept: all.clone(),
                heads_kept: (0..m.heads).collect(),
                token_topk: None,
                head_topk: None,
            });
        }
    }
    AttentionTrace {
        header: TraceHeader {
            workload: workload.name.clone(),
            source: "dense".into(),
            layers: m.layers,
            heads: m.heads,
            head_dim: m.head_dim,
            stage: s.kind,
            prompt_tokens: s.prompt_tokens,
            generated_tokens: if s.kind == StageKind::Generation {
                s.generated_tokens
            } else {
                0
            },
            seed: workload.seed,
            kv_heads: None,
            softmax_key_tile_rows: None,
            batch: None,
            value_topk_entries: None,
        },
        head_calls,
        layers,
        topk_calls: Vec::new(),
    }
}
