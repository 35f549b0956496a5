//! Capture mode: the dense forward pass of one text, recording each layer's Q, K and V.

use super::attention::{CaptureKernel, DenseAttention};
use super::bert::BertModel;
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
