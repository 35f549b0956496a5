//! Totals of an attention trace, as `spatten trace info` prints them.

use serde::Serialize;

use super::attention::{AttentionTrace, TopkPurpose};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerKept {
    pub layer: u32,
    /// Records of this layer (one per iteration that reached it, and sequence of a batch).
    pub records: u64,
    pub tokens_kept_min: u64,
    pub tokens_kept_mean: f64,
    pub tokens_kept_max: u64,
    pub heads_kept_min: u64,
    pub heads_kept_mean: f64,
    pub heads_kept_max: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceTotals {
    pub head_calls: u64,
    pub iterations: u64,
    pub queries: u64,
    pub keys_fetched: u64,
    pub values_fetched: u64,
    pub lsb_refetches: u64,
    pub requant_rows: u64,
    pub topk_token_calls: u64,
    pub topk_head_calls: u64,
    pub topk_local_value_calls: u64,
    /// Elements streamed through the comparators over all rounds of all calls.
    pub topk_round_elements: u64,
    pub per_layer: Vec<LayerKept>,
}

pub fn totals(t: &AttentionTrace) -> TraceTotals {
    let count = |p: TopkPurpose| t.topk_calls.iter().filter(|c| c.purpose == p).count() as u64;
    let mut iterations: Vec<u32> = t.head_calls.iter().map(|c| c.iteration).collect();
    iterations.sort_unstable();
    iterations.dedup();
    let per_layer = (0..t.header.layers)
        .filter_map(|layer| {
            let recs: Vec<_> = t.layers.iter().filter(|r| r.layer == layer).collect();
            if recs.is_empty() {
                return None;
            }
            let n = recs.len() as u64;
            let tok: Vec<u64> = recs.iter().map(|r| r.tokens_kept.len() as u64).collect();
            let hd: Vec<u64> = recs.iter().map(|r| r.heads_kept.len() as u64).collect();
            Some(LayerKept {
                layer,
                records: n,
                tokens_kept_min: *tok.iter().min().unwrap(),
                tokens_kept_mean: tok.iter().sum::<u64>() as f64 / n as f64,
                tokens_kept_max: *tok.iter().max().unwrap(),
                heads_kept_min: *hd.iter().min().unwrap(),
                heads_kept_mean: hd.iter().sum::<u64>() as f64 / n as f64,
                heads_kept_max: *hd.iter().max().unwrap(),
            })
        })
        .collect();
    TraceTotals {
        head_calls: t.head_calls.len() as u64,
        iterations: iterations.len() as u64,
        queries: t.head_calls.iter().map(|c| c.queries as u64).sum(),
        keys_fetched: t.head_calls.iter().map(|c| c.keys.len() as u64).sum(),
        values_fetched: t.head_calls.iter().map(|c| c.values.len() as u64).sum(),
        lsb_refetches: t.head_calls.iter().filter(|c| c.lsb_refetch).count() as u64,
        requant_rows: t.head_calls.iter().map(|c| c.requant_rows as u64).sum(),
        topk_token_calls: count(TopkPurpose::Token),
        topk_head_calls: count(TopkPurpose::Head),
        topk_local_value_calls: count(TopkPurpose::LocalValue),
        topk_round_elements: t
            .topk_calls
            .iter()
            .flat_map(|c| &c.rounds)
            .map(|&r| r as u64)
            .sum(),
        per_layer,
    }
}
