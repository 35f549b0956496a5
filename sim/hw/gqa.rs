//! Grouped-query attention on the datapath: the query heads sharing one K/V head form a
//! *group*, and one fetch of the K/V head's rows serves the whole group.
//!
//! Model: the head calls of one (iteration, layer, K/V head) run back to back (trace order
//! is by head, and a group's heads are consecutive). The first call of the group fetches the
//! union of the rows its query heads keep into the bank; the other calls reuse those rows
//! (no DRAM traffic) and each query head is scored against the whole union: the SRAM holds
//! the union, and rows a head did not keep are masked after Q x K, as a datapath streaming
//! one shared tile to every query head of the group does. So when a per-query-head selection
//! keeps different rows within a group (the SnapKV-on-GQA case), both the fetch and the
//! scoring grow from the head's own rows to the union; [`GqaStats`] shows that penalty.
//! Locally pruned V rows (a top-k per query head after softmax) are fetched per query head,
//! since they are chosen after the group's shared fetch. A group whose rows stream through
//! the SRAM in tiles ([`super::tiling`]) does not share by default: the first query head's
//! tiles are gone when the next one runs, so each query head streams the union itself. With
//! `controller.interleave_group_tiles` the group's query heads are scored tile by tile
//! against one K-MSB stream, which then comes from DRAM once.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::tiling::TilePlan;
use crate::trace::attention::{AttentionTrace, HeadCall};

/// K/V rows with and without sharing within groups, over the whole trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GqaStats {
    pub kv_heads: u32,
    /// Query heads per K/V head.
    pub group_size: u32,
    /// Groups run: (iteration, layer, K/V head) with at least one alive query head.
    pub groups: u64,
    /// K rows fetched once per group: the union of the rows its query heads keep (per K/V
    /// head, shared).
    pub key_rows_per_kv_head: u64,
    /// K rows scored per query head against the shared union, summed over head calls.
    pub key_rows_per_query_head_union: u64,
    /// K rows each query head itself keeps, summed over head calls: what it would score if
    /// the group kept the same rows.
    pub key_rows_per_query_head_own: u64,
    /// As `key_rows_per_kv_head`, for V rows of calls without local V pruning.
    pub value_rows_per_kv_head: u64,
    /// V rows each query head keeps, summed over head calls without local V pruning.
    pub value_rows_per_query_head_own: u64,
    /// DRAM bytes of the MSB-plane K rows fetched per K/V head (shared).
    pub key_msb_bytes_per_kv_head: u64,
    /// What the same query heads would fetch with one fetch per query head of their own rows
    /// (no sharing), for comparison.
    pub key_msb_bytes_unshared: u64,
    /// Groups streamed in tiles, which fetch per query head instead of once unless their
    /// tiles are interleaved.
    pub tiled_groups: u64,
    /// K MSB bytes the simulator fetched on the first pass: once per fitting group, once per
    /// query head of a tiled group (each scoring the union; once per query block of each in
    /// summarization), once per interleaved tiled group.
    pub key_msb_bytes_fetched: u64,
}

/// Whether each call streams in tiles, decided per group: on the view where every call of a
/// group holds the union, a group is tiled when any of its calls is.
pub fn tiled_calls(view: &AttentionTrace, plan: &TilePlan) -> Vec<bool> {
    let mut out: Vec<bool> = view.head_calls.iter().map(|c| plan.tiled(c)).collect();
    for g in groups(view) {
        if out[g.clone()].iter().any(|&t| t) {
            out[g].iter_mut().for_each(|t| *t = true);
        }
    }
    out
}

/// The groups of consecutive head calls in one (iteration, layer, sequence) reading one K/V head, as
/// index ranges into `trace.head_calls`. Without grouped heads every call is its own group.
pub fn groups(trace: &AttentionTrace) -> Vec<std::ops::Range<usize>> {
    let h = &trace.header;
    let key = |c: &HeadCall| (c.iteration, c.layer, c.sequence, h.kv_head_of(c.head));
    let calls = &trace.head_calls;
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=calls.len() {
        if i == calls.len() || key(&calls[i]) != key(&calls[start]) {
            out.push(start..i);
            start = i;
        }
    }
    out
}

fn union(lists: impl Iterator<Item = Vec<u32>>) -> Vec<u32> {
    let mut all: Vec<u32> = lists.flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The trace as the datapath runs it: every call of a group scores the union of the group's
/// kept K rows, and reads the union of their V rows when V is not pruned locally. A trace
/// without grouped heads is returned as it is.
pub fn shared_view(trace: &AttentionTrace) -> Cow<'_, AttentionTrace> {
    if trace.header.kv_heads.is_none() {
        return Cow::Borrowed(trace);
    }
    let mut t = trace.clone();
    for g in groups(trace) {
        let calls = &trace.head_calls[g.clone()];
        let keys = union(calls.iter().map(|c| c.keys.clone()));
        let dense = calls.iter().filter(|c| c.value_topk.is_none());
        let values = union(dense.map(|c| c.values.clone()));
        for c in &mut t.head_calls[g] {
            c.keys = keys.clone();
            if c.value_topk.is_none() {
                c.values = values.clone();
            }
        }
    }
    Cow::Owned(t)
}

/// For each head call, the first call of its group when it is not that call itself (its K/V
/// fetches are then served by the first call's); `None` everywhere without grouped heads.
pub fn leaders(trace: &AttentionTrace) -> Vec<Option<usize>> {
    let mut out = vec![None; trace.head_calls.len()];
    if trace.header.kv_heads.is_none() {
        return out;
    }
    for g in groups(trace) {
        for i in g.clone().skip(1) {
            out[i] = Some(g.start);
        }
    }
    out
}

/// Sharing statistics of a trace with grouped heads (`None` without), for a design point
/// with tile plan `plan`, `txn_bytes`-byte transactions and tiled groups `interleaved` or not.
pub fn stats(
    trace: &AttentionTrace,
    plan: &TilePlan,
    txn_bytes: u64,
    interleaved: bool,
) -> Option<GqaStats> {
    let h = &trace.header;
    let kv_heads = h.kv_heads?;
    let d = h.head_dim as u64;
    // DRAM bytes of a row list of one MSB plane: the distinct transactions covering it, as
    // the fetcher requests them (packed rows, see fetcher.rs).
    let bytes = |rows: &[u32], bits: u8| -> u64 {
        let row_bits = d * bits as u64;
        let txn_bits = txn_bytes * 8;
        let mut last = None;
        let mut n = 0u64;
        for &r in rows {
            let (first, end) = (r as u64 * row_bits / txn_bits, (r as u64 + 1) * row_bits);
            let end = end.div_ceil(txn_bits);
            let from = last.map_or(first, |l: u64| first.max(l + 1));
            n += end.saturating_sub(from);
            last = Some(end - 1);
        }
        n * txn_bytes
    };
    let mut s = GqaStats {
        kv_heads,
        group_size: h.heads / kv_heads,
        ..GqaStats::default()
    };
    let view = shared_view(trace);
    let tiled = tiled_calls(&view, plan);
    for g in groups(trace) {
        let group_tiled = tiled[g.start];
        // A tiled summarization call streams its keys once per query block.
        let blocks = plan
            .blocks(&view.head_calls[g.start])
            .map_or(1, |b| b.count() as u64);
        let calls = &trace.head_calls[g];
        let keys = union(calls.iter().map(|c| c.keys.clone()));
        let dense: Vec<&HeadCall> = calls.iter().filter(|c| c.value_topk.is_none()).collect();
        let values = union(dense.iter().map(|c| c.values.clone()));
        s.groups += 1;
        s.key_rows_per_kv_head += keys.len() as u64;
        s.key_rows_per_query_head_union += keys.len() as u64 * calls.len() as u64;
        s.value_rows_per_kv_head += values.len() as u64;
        let shared = bytes(&keys, calls[0].key_msb_bits);
        s.key_msb_bytes_per_kv_head += shared;
        s.tiled_groups += group_tiled as u64;
        let streams = if !group_tiled || (interleaved && calls[0].queries == 1) {
            1
        } else {
            calls.len() as u64 * blocks
        };
        s.key_msb_bytes_fetched += shared * streams;
        for c in calls {
            s.key_rows_per_query_head_own += c.keys.len() as u64;
            s.key_msb_bytes_unshared += bytes(&c.keys, c.key_msb_bits);
        }
        s.value_rows_per_query_head_own += dense.iter().map(|c| c.values.len() as u64).sum::<u64>();
    }
    Some(s)
}
