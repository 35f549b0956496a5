//! How often a trace's generation iterations refetch LSBs, in two layer groups, and how many
//! keys they fetch: the statistics the decoder knobs of the synthetic generator are fitted
//! to (`SynthKnobs::decoder`, `examples/fit_synth_decoder.rs`, traces/FORMAT.md).

use super::AttentionTrace;
use crate::config::workload::{QuantMode, WorkloadConfig};
use crate::config::{ConfigError, load_workload};

/// Layers of the public GPT-2-small trace (summary-gpt2-small-wikitext2-per8.csv) before its
/// first token pruning: its kept fraction drops from 0.72 to 0.23 at layer 2.
pub const DENSE_LAYERS: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefetchProfile {
    /// Head calls that refetched LSBs, over head calls, in layers below [`DENSE_LAYERS`].
    pub early_rate: f64,
    /// The same in the other layers.
    pub late_rate: f64,
    /// Mean over head calls of the keys fetched over the KV length.
    pub kept_fraction: f64,
}

impl RefetchProfile {
    /// Over the generation iterations (iteration 0, the prompt pass, is left out: the public
    /// traces do not have it). `None` without generation head calls in both groups.
    pub fn of(t: &AttentionTrace) -> Option<Self> {
        let (mut n, mut r) = ([0u64; 2], [0u64; 2]);
        let mut kept = 0.0;
        for c in t.head_calls.iter().filter(|c| c.iteration > 0) {
            let g = usize::from(c.layer >= DENSE_LAYERS);
            n[g] += 1;
            r[g] += u64::from(c.lsb_refetch);
            let len = t.header.prompt_tokens as f64 + c.iteration as f64;
            kept += c.keys.len() as f64 / len;
        }
        (n[0] > 0 && n[1] > 0).then(|| Self {
            early_rate: r[0] as f64 / n[0] as f64,
            late_rate: r[1] as f64 / n[1] as f64,
            kept_fraction: kept / (n[0] + n[1]) as f64,
        })
    }
}

/// GPT-2-small with the public per8 trace's quantization (progressive, 6 MSB + 4 LSB bits,
/// refetch below 0.05) and a token pruning schedule shaped like its kept fractions: nothing
/// pruned after layer 0, then `ratio` after every layer; no head or local V pruning.
pub fn per8_fit_workload(ratio: f64) -> Result<WorkloadConfig, ConfigError> {
    let mut w = load_workload("gpt2-small")?;
    w.name = "gpt2-small-per8-fit".into();
    w.quant.mode = QuantMode::Progressive;
    w.quant.msb_bits = 6;
    w.quant.lsb_bits = 4;
    w.quant.requant_threshold = 0.05;
    w.token_pruning.unpruned_leading_fraction = 0.08;
    w.token_pruning.average_ratio = ratio;
    w.token_pruning.ramp = 0.0;
    w.head_pruning.average_ratio = 0.0;
    w.local_v.keep_ratio = 1.0;
    Ok(w)
}
