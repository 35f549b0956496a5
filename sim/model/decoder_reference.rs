//! The closed loop for decoders: the bit-exact reference (quantization, fixed-point softmax,
//! cascade token and head pruning, local V pruning, a `[policy]`) as the attention of every
//! layer, the prompt as iteration 0 and each further token as a generation iteration, so
//! the KV cache is pruned and quantized as the hardware would prune and quantize it.

use ndarray::ArrayView3;

use super::attention::AttentionOutput;
use super::decoder_attention::DecoderKernel;
use super::decoder_config::{DecoderArch, DecoderConfig};
use super::error::ModelError;
use crate::config::WorkloadConfig;
use crate::config::workload::{ModelShape, Positional, StageConfig, StageKind};
use crate::reference::{PruningState, attend_layer_rows};

/// A workload's pruning, quantization and policy settings on a decoder's shape: a prompt
/// of `prompt` tokens, then `generated` tokens one at a time.
pub fn workload_for_decoder(
    settings: &WorkloadConfig,
    config: &DecoderConfig,
    prompt: u32,
    generated: u32,
) -> WorkloadConfig {
    let heads = config.num_heads as u32;
    let head_dim = config.head_dim as u32;
    WorkloadConfig {
        model: ModelShape {
            layers: config.num_layers as u32,
            heads,
            head_dim,
            hidden: heads * head_dim,
            causal: true,
            kv_heads: Some(config.num_kv_heads as u32),
            positional: Some(match config.arch {
                DecoderArch::Gpt2 => Positional::Learned,
                DecoderArch::Llama => Positional::Rope,
            }),
        },
        stage: StageConfig {
            kind: if generated > 0 {
                StageKind::Generation
            } else {
                StageKind::Summarization
            },
            prompt_tokens: prompt,
            generated_tokens: generated,
            prefill: None,
            batch: 1,
        },
        ..settings.clone()
    }
}

/// One value runs one sequence of at most `total_tokens` tokens: its first call (layer 0)
/// is the prompt, every later call at layer 0 starts a generation iteration.
pub struct ReferenceDecoder {
    settings: WorkloadConfig,
    config: DecoderConfig,
    total_tokens: usize,
    run: Option<(WorkloadConfig, PruningState)>,
    kept: (u64, u64),
}

impl ReferenceDecoder {
    pub fn new(settings: &WorkloadConfig, config: &DecoderConfig, total_tokens: usize) -> Self {
        Self {
            settings: settings.clone(),
            config: config.clone(),
            total_tokens,
            run: None,
            kept: (0, 0),
        }
    }
}

impl DecoderKernel for ReferenceDecoder {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        positions: &[usize],
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        let err = |reason: String| ModelError::Kernel { layer, reason };
        match self.run.as_mut() {
            None => {
                if layer != 0 || positions.first() != Some(&0) {
                    return Err(err("the first call must be the prompt at layer 0".into()));
                }
                let prompt = positions.len();
                let generated = self.total_tokens.saturating_sub(prompt);
                let w = workload_for_decoder(
                    &self.settings,
                    &self.config,
                    prompt as u32,
                    generated as u32,
                );
                let s = PruningState::new(&w);
                self.run = Some((w, s));
            }
            Some((_, state)) if layer == 0 => {
                if positions != [state.seq_len as usize] {
                    return Err(err(format!(
                        "a generation step feeds one token at position {}, got {positions:?}",
                        state.seq_len
                    )));
                }
                state.begin_generation_step();
            }
            Some(_) => {}
        }
        let (workload, state) = self.run.as_mut().expect("set above");
        let queries = state.query_tokens();
        if queries
            .iter()
            .map(|&t| t as usize)
            .ne(positions.iter().copied())
        {
            return Err(err(format!(
                "query rows at {positions:?} but the alive queries are {queries:?}"
            )));
        }
        let q_rows: Vec<usize> = (0..positions.len()).collect();
        let kv_rows: Vec<usize> = state.alive_tokens.iter().map(|&t| t as usize).collect();
        let result = attend_layer_rows(
            q,
            k,
            v,
            &q_rows,
            &kv_rows,
            layer as u32,
            state,
            workload,
            None,
        )
        .map_err(|e| err(e.to_string()))?;
        // Query rows that are still alive live on into the next layer.
        let keep: Vec<usize> = positions
            .iter()
            .enumerate()
            .filter(|(_, p)| state.alive_tokens.binary_search(&(**p as u32)).is_ok())
            .map(|(i, _)| i)
            .collect();
        if layer + 1 == self.config.num_layers && state.iteration > 0 {
            self.kept.0 += state.alive_tokens.len() as u64;
            self.kept.1 += state.seq_len as u64;
        }
        Ok(AttentionOutput {
            context: result.output,
            keep,
        })
    }

    fn kv_kept(&self) -> Option<(u64, u64)> {
        Some(self.kept)
    }
}
