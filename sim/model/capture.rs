//! Capture mode: the dense forward pass of one text, recording each layer's Q, K and V.

use super::attention::{CaptureKernel, DenseAttention};
use super::bert::BertModel;
use super::decoder::{DecoderModel, KvCache};
use super::decoder_attention::DenseCausal;
use super::error::ModelError;
use crate::trace::{ValueMeta, ValueTensors};

/// Q, K and V of every layer for `text`, each [heads, tokens, head_dim] with `[CLS]` and
/// `[SEP]` included. `meta.source` is the text itself; a caller that read it from a file may
/// replace it with the file name.
pub fn capture(model: &BertModel, text: &str) -> Result<ValueTensors, ModelError> {
    let ids = model.encode(text)?;
    let mut kernel = CaptureKernel::new(DenseAttention);
    model.forward(&ids, &mut kernel)?;
    Ok(ValueTensors {
        meta: ValueMeta {
            model: model.name().to_string(),
            source: text.to_string(),
            seed: 0,
            prompt_tokens: u32::try_from(ids.len()).expect("at most max_position_embeddings"),
            causal: false,
        },
        layers: kernel.layers,
    })
}

/// Q, K and V of every layer of a decoder on the token ids `ids`, the first `prompt` of them
/// the prompt and the rest generated tokens (teacher-forced). Q is [heads, tokens, head_dim],
/// K and V [kv_heads, tokens, head_dim], as the attention sees them (after RoPE for Llama).
/// Dense causal attention makes a row's values independent of how the sequence is split
/// into passes, so one pass over all tokens gives the values a prompt pass and one
/// generation step per token would give.
pub fn capture_decoder(
    model: &DecoderModel,
    ids: &[u32],
    prompt: usize,
) -> Result<ValueTensors, ModelError> {
    let mut kernel = CaptureKernel::new(DenseCausal);
    let mut cache = KvCache::new(model.config(), ids.len());
    model.forward(ids, &mut cache, &mut kernel)?;
    Ok(ValueTensors {
        meta: ValueMeta {
            model: model.name().to_string(),
            source: String::new(),
            seed: 0,
            prompt_tokens: u32::try_from(prompt.min(ids.len())).expect("at most max_positions"),
            causal: true,
        },
        layers: kernel.layers,
    })
}
