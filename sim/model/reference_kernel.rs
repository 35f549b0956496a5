//! The closed loop: the bit-exact reference (quantization, fixed-point softmax, cascade token
//! and head pruning) as the model's attention, so pruned tokens really disappear from later
//! layers and the accuracy cost of a workload's settings can be measured.

use ndarray::ArrayView3;

use super::attention::{AttentionKernel, AttentionOutput};
use super::error::ModelError;
use super::weights::BertConfig;
use crate::config::WorkloadConfig;
use crate::config::workload::{ModelShape, StageConfig, StageKind};
use crate::reference::{PruningState, attend_layer};

/// A workload's pruning and quantization settings on a model's shape, for one sentence of
/// `tokens` tokens (summarization, no masking).
pub fn workload_for_model(
    settings: &WorkloadConfig,
    config: &BertConfig,
    tokens: u32,
) -> WorkloadConfig {
    let heads = config.num_attention_heads as u32;
    let hidden = config.hidden_size as u32;
    WorkloadConfig {
        model: ModelShape {
            layers: config.num_hidden_layers as u32,
            heads,
            head_dim: hidden / heads,
            hidden,
            causal: false,
            kv_heads: None,
            positional: None,
        },
        stage: StageConfig {
            kind: StageKind::Summarization,
            prompt_tokens: tokens,
            generated_tokens: 0,
            prefill: None,
            batch: 1,
        },
        ..settings.clone()
    }
}

/// Runs each layer through [`attend_layer`], carrying the pruning state across layers. One
/// value runs one sentence.
pub struct ReferenceAttention {
    settings: WorkloadConfig,
    config: BertConfig,
    run: Option<(WorkloadConfig, PruningState)>,
}

impl ReferenceAttention {
    pub fn new(settings: &WorkloadConfig, config: &BertConfig) -> Self {
        Self {
            settings: settings.clone(),
            config: config.clone(),
            run: None,
        }
    }

    /// Tokens alive after the last layer run so far.
    pub fn alive_tokens(&self) -> usize {
        self.run.as_ref().map_or(0, |(_, s)| s.alive_tokens.len())
    }
}

impl AttentionKernel for ReferenceAttention {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        let err = |reason: String| ModelError::Kernel { layer, reason };
        let (workload, state) = self.run.get_or_insert_with(|| {
            let w = workload_for_model(&self.settings, &self.config, q.shape()[1] as u32);
            let s = PruningState::new(&w);
            (w, s)
        });
        let before = state.alive_tokens.clone();
        let result =
            attend_layer(q, k, v, layer as u32, state, workload).map_err(|e| err(e.to_string()))?;
        let mut keep = Vec::with_capacity(state.alive_tokens.len());
        let mut i = 0;
        for t in &state.alive_tokens {
            while i < before.len() && before[i] < *t {
                i += 1;
            }
            if i == before.len() || before[i] != *t {
                return Err(err(format!("token {t} survived but was not alive before")));
            }
            keep.push(i);
        }
        Ok(AttentionOutput {
            context: result.output,
            keep,
        })
    }
}
