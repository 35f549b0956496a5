//! Value tensors: the Q, K and V a workload runs on, per layer, as [heads, tokens, head_dim].

use ndarray::Array3;
use serde::{Deserialize, Serialize};

/// Where the values came from, stored as safetensors metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueMeta {
    /// Model name ("all-MiniLM-L6-v2", "synthetic", ...).
    pub model: String,
    /// Input description: the text file, or the generator and its knobs.
    pub source: String,
    pub seed: u64,
    /// Tokens in the prompt; positions at and after it are generated tokens.
    pub prompt_tokens: u32,
    pub causal: bool,
}

/// One layer's projections, f32: Q [heads, tokens, head_dim], K and V [kv_heads, tokens,
/// head_dim] (kv_heads = heads unless K/V heads are grouped).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerValues {
    pub q: Array3<f32>,
    pub k: Array3<f32>,
    pub v: Array3<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValueTensors {
    pub meta: ValueMeta,
    pub layers: Vec<LayerValues>,
}

impl ValueTensors {
    pub fn heads(&self) -> usize {
        self.layers.first().map_or(0, |l| l.q.shape()[0])
    }

    /// K/V heads (fewer than `heads` under grouped-query attention).
    pub fn kv_heads(&self) -> usize {
        self.layers.first().map_or(0, |l| l.k.shape()[0])
    }

    pub fn tokens(&self) -> usize {
        self.layers.first().map_or(0, |l| l.q.shape()[1])
    }

    pub fn head_dim(&self) -> usize {
        self.layers.first().map_or(0, |l| l.q.shape()[2])
    }
}
