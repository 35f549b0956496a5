//! How much K/V data each technique removes: the trace's fetches compared with the same run
//! with the technique undone, one step at a time (dense -> token pruning -> head pruning ->
//! local V pruning -> progressive quantization). Volumes are data bits, before rounding to
//! DRAM transactions.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::AttentionTrace;
use super::trace_check::tokens_in_iteration;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrafficSteps {
    /// Every head of every layer fetches all tokens' K and V at the on-chip word width.
    pub dense_bits: f64,
    /// With the trace's token pruning (pruned heads counted at their layer's mean key count).
    pub after_token_pruning_bits: f64,
    /// With head pruning too.
    pub after_head_pruning_bits: f64,
    /// With local V pruning too.
    pub after_local_v_bits: f64,
    /// With MSB-first fetching and LSB refetches: what the trace actually fetches.
    pub after_quantization_bits: f64,
}

impl TrafficSteps {
    pub fn of(trace: &AttentionTrace, word_bits: u32) -> Self {
        Self::of_sequences(trace, word_bits, None)
    }

    /// [`Self::of`] for one sequence of a batch (`Some(s)`), or all of them.
    pub fn of_sequences(trace: &AttentionTrace, word_bits: u32, only: Option<u32>) -> Self {
        let h = &trace.header;
        let counted = |s: u32| only.is_none_or(|o| o == s);
        let d = h.head_dim as f64;
        let w = word_bits as f64;
        // (iteration, layer, sequence) -> (head calls, keys, keys + values, quantized bits)
        type Step = (u32, u32, u32);
        let mut groups: BTreeMap<Step, (f64, f64, f64, f64)> = BTreeMap::new();
        for c in trace.head_calls.iter().filter(|c| counted(c.sequence)) {
            let g = groups
                .entry((c.iteration, c.layer, c.sequence))
                .or_default();
            let (k, v) = (c.keys.len() as f64, c.values.len() as f64);
            g.0 += 1.0;
            g.1 += k;
            g.2 += k + v;
            let lsb = if c.lsb_refetch {
                c.lsb_bits as f64
            } else {
                0.0
            };
            g.3 += k * d * (c.key_msb_bits as f64 + lsb) + v * d * (c.value_msb_bits as f64 + lsb);
        }
        let heads = h.heads as f64;
        let mut s = Self {
            dense_bits: 0.0,
            after_token_pruning_bits: 0.0,
            after_head_pruning_bits: 0.0,
            after_local_v_bits: 0.0,
            after_quantization_bits: 0.0,
        };
        // Dense is the same iterations undone: an imported trace has no prompt pass
        // (iteration 0), and counting one would overstate every saving.
        let iterations: BTreeSet<u32> = trace
            .head_calls
            .iter()
            .filter(|c| counted(c.sequence))
            .map(|c| c.iteration)
            .collect();
        for iteration in iterations {
            let tokens = tokens_in_iteration(h.prompt_tokens, iteration) as f64;
            let sequences = (0..h.batch()).filter(|&b| counted(b));
            for (layer, sequence) in
                (0..h.layers).flat_map(|l| sequences.clone().map(move |b| (l, b)))
            {
                s.dense_bits += heads * tokens * d * w * 2.0;
                if let Some(&(calls, keys, kv, quant)) = groups.get(&(iteration, layer, sequence)) {
                    s.after_token_pruning_bits += heads * (keys / calls) * d * w * 2.0;
                    s.after_head_pruning_bits += keys * d * w * 2.0;
                    s.after_local_v_bits += kv * d * w;
                    s.after_quantization_bits += quant;
                }
            }
        }
        s
    }

    /// (technique, bits saved) in the order the techniques are applied.
    pub fn savings(&self) -> [(&'static str, f64); 4] {
        [
            (
                "token pruning",
                self.dense_bits - self.after_token_pruning_bits,
            ),
            (
                "head pruning",
                self.after_token_pruning_bits - self.after_head_pruning_bits,
            ),
            (
                "local V pruning",
                self.after_head_pruning_bits - self.after_local_v_bits,
            ),
            (
                "progressive quantization",
                self.after_local_v_bits - self.after_quantization_bits,
            ),
        ]
    }

    /// Dense volume over fetched volume.
    pub fn reduction(&self) -> f64 {
        if self.after_quantization_bits > 0.0 {
            self.dense_bits / self.after_quantization_bits
        } else {
            0.0
        }
    }
}
