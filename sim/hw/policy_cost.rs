//! What a pruning policy's own actions cost in hardware, per action, from the trace it
//! left: eviction top-k passes, Quest's page top-k passes, page-bound computation and page
//! summaries, score accumulation, kept-index metadata and the contiguity lost when kept
//! rows are scattered.
//!
//! Eviction top-k calls (layer records) and score accumulation (`accumulate_importance`)
//! are replayed by the cycle simulator itself; they are itemized here from its counters.
//! The rest runs outside the replayed pipeline and is charged here, serially after the run
//! (no overlap with attention assumed, so an upper bound on its time):
//! - a page top-k call runs on the token engine: [`topk_call_cycles`];
//! - page summaries: two vectors (min, max) of D 12-bit words per page, read for every
//!   page a Quest query ranks and written once per (layer, head) for the prompt's pages and
//!   once per step for the page the new token lands in, at the HBM's peak bandwidth;
//! - the bound of a page is 2 x D multiply-accumulates on the QxK array;
//! - metadata: a head call whose keys are not one contiguous run of positions reads its
//!   index list (16 bits per key) before its fetch; every eviction writes its kept list.
//!
//! Contiguity is measured, not charged again: the fetcher already fetches every distinct
//! 32 B transaction covering the rows it is given, so scattered rows cost what they cost in
//! the simulation; the ratio of those transactions to the same rows packed is reported.

use serde::Serialize;

use super::SimStats;
use super::topk::{topk_call_comparisons, topk_call_cycles};
use crate::config::ArchConfig;
use crate::trace::{AttentionTrace, TopkPurpose};

/// Bytes of one page summary: min and max vectors of D 12-bit words.
fn summary_bytes(head_dim: u32) -> u64 {
    (2 * head_dim as u64 * 12).div_ceil(8)
}

/// Bits of one kept-token index in the metadata lists.
const INDEX_BITS: u64 = 16;

/// One policy run's actions, counted and costed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolicyCost {
    /// Eviction top-k calls (token purpose) and the comparisons they streamed.
    pub eviction_calls: u64,
    pub eviction_comparisons: u64,
    /// Probabilities added into scores (the importance unit), from the simulation.
    pub score_additions: u64,
    /// Quest page top-k calls, their comparisons and token-engine cycles.
    pub page_calls: u64,
    pub page_comparisons: u64,
    pub page_cycles: u64,
    /// Page bounds computed (pages ranked, plus the query's own page) and their MACs.
    pub page_bounds: u64,
    pub page_bound_macs: u64,
    pub summary_bytes_read: u64,
    pub summary_bytes_written: u64,
    /// Kept-index lists read and written.
    pub metadata_bytes: u64,
    /// Summary and metadata transfers at peak bandwidth.
    pub transfer_cycles: u64,
    /// DRAM transactions of K/V per transaction the same rows would need packed (>= 1).
    pub contiguity_loss: f64,
    /// Energy by action (J).
    pub eviction_topk_j: f64,
    pub page_topk_j: f64,
    pub page_bound_j: f64,
    pub summary_dram_j: f64,
    pub metadata_dram_j: f64,
}

impl PolicyCost {
    pub fn of(arch: &ArchConfig, trace: &AttentionTrace, stats: &SimStats) -> Self {
        let e = &arch.energy;
        let pj = 1e-12;
        let d = trace.header.head_dim;
        let mut c = PolicyCost::default();
        for call in &trace.topk_calls {
            match call.purpose {
                TopkPurpose::Token => {
                    c.eviction_calls += 1;
                    c.eviction_comparisons += topk_call_comparisons(call);
                }
                TopkPurpose::Page => {
                    c.page_calls += 1;
                    c.page_comparisons += topk_call_comparisons(call);
                    c.page_cycles += topk_call_cycles(call, &arch.topk_token);
                    c.page_bounds += call.n as u64 + 1;
                }
                _ => {}
            }
        }
        c.score_additions = stats.importance_additions;
        c.page_bound_macs = c.page_bounds * 2 * d as u64;
        c.summary_bytes_read = c.page_bounds * summary_bytes(d);
        if c.page_calls > 0 {
            // Per (layer, head) ranking pages: the prompt's pages once, then one page
            // update per generation step.
            let steps = trace.header.generated_tokens.max(1) as u64;
            let pairs = c.page_calls.div_ceil(steps);
            let prompt_pages = trace
                .topk_calls
                .iter()
                .find(|t| t.purpose == TopkPurpose::Page)
                .map_or(0, |t| t.n as u64);
            c.summary_bytes_written = (pairs * prompt_pages + c.page_calls) * summary_bytes(d);
        }
        for hc in &trace.head_calls {
            let contiguous = hc.keys.windows(2).all(|w| w[1] == w[0] + 1);
            if !contiguous {
                c.metadata_bytes += (hc.keys.len() as u64 * INDEX_BITS).div_ceil(8);
            }
        }
        for r in &trace.layers {
            if r.token_topk.is_some() {
                c.metadata_bytes += (r.tokens_kept.len() as u64 * INDEX_BITS).div_ceil(8);
            }
        }
        let bytes_per_cycle =
            arch.hbm.total_bandwidth_gbps() * 1e3 / arch.clock.frequency_mhz.max(1e-9);
        let moved = c.summary_bytes_read + c.summary_bytes_written + c.metadata_bytes;
        c.transfer_cycles = (moved as f64 / bytes_per_cycle.max(1e-9)).ceil() as u64;
        c.contiguity_loss = contiguity_loss(trace, arch.fetcher.transaction_bytes as u64);
        let bit_j = e.dram_bit_pj.value * pj;
        c.eviction_topk_j = c.eviction_comparisons as f64 * e.topk_comparison_pj.value * pj;
        c.page_topk_j = c.page_comparisons as f64 * e.topk_comparison_pj.value * pj;
        c.page_bound_j = c.page_bound_macs as f64 * e.qk_mac_pj.value * pj;
        c.summary_dram_j = (c.summary_bytes_read + c.summary_bytes_written) as f64 * 8.0 * bit_j;
        c.metadata_dram_j = c.metadata_bytes as f64 * 8.0 * bit_j;
        c
    }

    /// Cycles charged on top of the simulated run.
    pub fn extra_cycles(&self) -> u64 {
        self.page_cycles + self.transfer_cycles
    }

    /// Energy charged on top of the simulated run's energy report (eviction top-k and score
    /// accumulation are already in it).
    pub fn extra_j(&self) -> f64 {
        self.page_topk_j + self.page_bound_j + self.summary_dram_j + self.metadata_dram_j
    }
}

/// Distinct transactions covering each head call's K rows (MSB plane, packed rows of
/// `key_msb_bits x D` bits) over the transactions the same number of rows needs packed.
pub fn contiguity_loss(trace: &AttentionTrace, txn_bytes: u64) -> f64 {
    let d = trace.header.head_dim as u64;
    let (mut actual, mut packed) = (0u64, 0u64);
    for hc in &trace.head_calls {
        let row_bits = d * hc.key_msb_bits as u64;
        let txn_bits = txn_bytes * 8;
        let mut last = None;
        for &t in &hc.keys {
            let lo = t as u64 * row_bits / txn_bits;
            let hi = ((t as u64 + 1) * row_bits - 1) / txn_bits;
            let start = match last {
                Some(l) if l >= lo => l + 1,
                _ => lo,
            };
            if hi >= start {
                actual += hi - start + 1;
            }
            last = Some(hi.max(last.unwrap_or(0)));
        }
        packed += (hc.keys.len() as u64 * row_bits).div_ceil(txn_bits);
    }
    if packed == 0 {
        1.0
    } else {
        actual as f64 / packed as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{HeadCall, TraceHeader};

    fn trace_with_keys(keys: Vec<u32>) -> AttentionTrace {
        AttentionTrace {
            header: TraceHeader {
                workload: "t".into(),
                source: "t".into(),
                layers: 1,
                heads: 1,
                head_dim: 64,
                stage: crate::config::workload::StageKind::Summarization,
                prompt_tokens: 64,
                generated_tokens: 0,
                seed: 0,
                kv_heads: None,
                softmax_key_tile_rows: None,
                batch: None,
                value_topk_entries: None,
            },
            head_calls: vec![HeadCall {
                sequence: 0,
                iteration: 0,
                layer: 0,
                head: 0,
                queries: 1,
                query_bits: 12,
                values: keys.clone(),
                keys,
                key_msb_bits: 2,
                value_msb_bits: 2,
                lsb_bits: 0,
                requant_rows: 0,
                lsb_refetch: false,
                accumulate_importance: false,
                value_topk: None,
            }],
            layers: vec![],
            topk_calls: vec![],
        }
    }

    #[test]
    fn scattered_rows_lose_contiguity_and_packed_rows_do_not() {
        // 64 x 2-bit rows are 16 B: two per 32 B transaction.
        assert_eq!(contiguity_loss(&trace_with_keys((0..8).collect()), 32), 1.0);
        // Every other row: 4 rows, 4 transactions, where 2 would do packed.
        assert_eq!(contiguity_loss(&trace_with_keys(vec![0, 2, 4, 6]), 32), 2.0);
    }
}
