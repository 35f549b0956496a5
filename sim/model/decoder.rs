//! The f32 forward pass of a GPT-2- or Llama-style decoder with a KV cache, batch 1.
//!
//! [`DecoderModel::forward`] appends tokens to a [`KvCache`] and returns the logits of the
//! rows that survive; the prompt goes in as one call, each generated token as one more. The
//! attention of every layer goes through a [`DecoderKernel`], dense or the bit-exact
//! reference with a workload's pruning and quantization.

use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3, ArrayView2, Axis, Zip, s};

use super::bert::check_output;
use super::decoder_attention::{DecoderKernel, DenseCausal};
use super::decoder_config::{Activation, DecoderArch, DecoderConfig};
use super::decoder_weights::{DecoderWeights, Norm};
use super::error::ModelError;
use super::hf_tokenizer::HfTokenizer;
use super::ops::{gelu, gelu_tanh, layer_norm, linear_rows as linear, rms_norm, silu};
use super::tensors::Checkpoint;

#[derive(Debug, Clone)]
pub struct DecoderModel {
    name: String,
    dir: PathBuf,
    config: DecoderConfig,
    weights: DecoderWeights,
    tokenizer: HfTokenizer,
}

/// Keys and values of every layer so far, [kv_heads, capacity, head_dim] per layer; row =
/// position. Rows of prompt tokens pruned before a layer stay zero there (never read).
#[derive(Debug, Clone)]
pub struct KvCache {
    k: Vec<Array3<f32>>,
    v: Vec<Array3<f32>>,
    len: usize,
}

impl KvCache {
    /// Room for `capacity` positions.
    pub fn new(config: &DecoderConfig, capacity: usize) -> Self {
        let shape = (config.num_kv_heads, capacity, config.head_dim);
        Self {
            k: vec![Array3::zeros(shape); config.num_layers],
            v: vec![Array3::zeros(shape); config.num_layers],
            len: 0,
        }
    }

    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.k.first().map_or(0, |k| k.shape()[1])
    }
}

/// Logits of one forward call.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// [rows, vocab] for the rows alive after the last layer.
    pub logits: Array2<f32>,
    /// Their positions, ascending (all positions of the call unless a kernel pruned rows).
    pub positions: Vec<usize>,
}

impl DecoderModel {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` (or the shards of
    /// `model.safetensors.index.json`) from `dir`; the name is the directory's.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingDir {
                path: dir.to_path_buf(),
            });
        }
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(ModelError::MissingFile { path: config_path });
        }
        let config = DecoderConfig::from_file(&config_path)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer = HfTokenizer::from_file(&tokenizer_path)?.without_truncation();
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(ModelError::Vocab {
                path: tokenizer_path,
                reason: format!(
                    "{} tokens but config.json declares vocab_size {}",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        let checkpoint = Checkpoint::open(dir)?;
        let weights = DecoderWeights::load(&checkpoint.tensors()?, &config)?;
        Ok(Self {
            name: dir_name(dir),
            dir: dir.to_path_buf(),
            config,
            weights,
            tokenizer,
        })
    }

    /// A model from parts (random-weight benchmarks, crafted tests).
    pub fn from_parts(
        name: &str,
        config: DecoderConfig,
        weights: DecoderWeights,
        tokenizer: HfTokenizer,
    ) -> Self {
        Self {
            name: name.to_string(),
            dir: PathBuf::new(),
            config,
            weights,
            tokenizer,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    pub fn weights(&self) -> &DecoderWeights {
        &self.weights
    }

    pub fn tokenizer(&self) -> &HfTokenizer {
        &self.tokenizer
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        self.tokenizer.encode(text, false)
    }

    /// Dense logits of every position of `ids`, [tokens, vocab], in one call.
    pub fn logits(&self, ids: &[u32]) -> Result<Array2<f32>, ModelError> {
        let mut cache = KvCache::new(&self.config, ids.len());
        Ok(self.forward(ids, &mut cache, &mut DenseCausal)?.logits)
    }

    /// Greedy generation of `new_tokens` after `prompt`: the prompt in one call, then one
    /// call per token. Returns the generated ids.
    pub fn generate(
        &self,
        prompt: &[u32],
        new_tokens: usize,
        kernel: &mut dyn DecoderKernel,
    ) -> Result<Vec<u32>, ModelError> {
        let mut cache = KvCache::new(&self.config, prompt.len() + new_tokens);
        let mut out = Vec::with_capacity(new_tokens);
        let mut step = self.forward(prompt, &mut cache, kernel)?;
        for i in 0..new_tokens {
            if step.positions.last() != Some(&(cache.len() - 1)) {
                return Err(ModelError::Kernel {
                    layer: self.config.num_layers - 1,
                    reason: "the newest token was pruned; nothing predicts the next one".into(),
                });
            }
            let next = argmax(step.logits.row(step.logits.nrows() - 1));
            out.push(next);
            if i + 1 < new_tokens {
                step = self.forward(&[next], &mut cache, kernel)?;
            }
        }
        Ok(out)
    }

    /// Appends `ids` at the next positions of `cache` and runs every layer.
    pub fn forward(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
        kernel: &mut dyn DecoderKernel,
    ) -> Result<StepOutput, ModelError> {
        let cfg = &self.config;
        if ids.is_empty() {
            return Err(ModelError::EmptyText);
        }
        let start = cache.len;
        let end = start + ids.len();
        let max = cfg.max_positions.min(cache.capacity());
        if end > max {
            return Err(ModelError::TooManyTokens { tokens: end, max });
        }
        let mut positions: Vec<usize> = (start..end).collect();
        let mut x = self.embed(ids, start)?;
        cache.len = end;
        let eps = cfg.norm_eps as f32;
        let (d, heads, kv_heads) = (cfg.head_dim, cfg.num_heads, cfg.num_kv_heads);
        let (qw, kvw) = (cfg.attn_width(), cfg.kv_width());

        for (l, w) in self.weights.layers.iter().enumerate() {
            let mut h = x.clone();
            norm(&mut h, &w.attn_norm, eps);
            let mut qkv = linear(h.view(), &w.qkv);
            if cfg.arch == DecoderArch::Llama {
                let theta = cfg.rope_theta as f32;
                rope(&mut qkv.slice_mut(s![.., ..qw + kvw]), &positions, d, theta);
            }
            let q = split_heads(qkv.slice(s![.., ..qw]), heads, d);
            for (r, &p) in positions.iter().enumerate() {
                for kh in 0..kv_heads {
                    let (a, b) = (qw + kh * d, qw + kvw + kh * d);
                    cache.k[l]
                        .slice_mut(s![kh, p, ..])
                        .assign(&qkv.slice(s![r, a..a + d]));
                    cache.v[l]
                        .slice_mut(s![kh, p, ..])
                        .assign(&qkv.slice(s![r, b..b + d]));
                }
            }
            let out = kernel.attend(
                l,
                q.view(),
                &positions,
                cache.k[l].slice(s![.., ..end, ..]),
                cache.v[l].slice(s![.., ..end, ..]),
            )?;
            check_output(l, q.dim(), &out.context, &out.keep)?;
            x += &linear(merge_heads(out.context).view(), &w.attn_out);
            // Row-wise from here on, so dropping pruned rows now equals dropping them later.
            if out.keep.len() != positions.len() {
                x = x.select(Axis(0), &out.keep);
                positions = out.keep.iter().map(|&i| positions[i]).collect();
            }

            let mut h = x.clone();
            norm(&mut h, &w.mlp_norm, eps);
            let mut inner = linear(h.view(), &w.mlp_in);
            let inner = match cfg.activation {
                Activation::Gelu => {
                    inner.mapv_inplace(gelu);
                    inner
                }
                Activation::GeluTanh => {
                    inner.mapv_inplace(gelu_tanh);
                    inner
                }
                Activation::Silu => {
                    // SwiGLU: silu(gate) * up, gate and up side by side.
                    let i = cfg.intermediate_size;
                    let mut gate = inner.slice(s![.., ..i]).to_owned();
                    Zip::from(&mut gate)
                        .and(inner.slice(s![.., i..]))
                        .for_each(|g, &u| *g = silu(*g) * u);
                    gate
                }
            };
            x += &linear(inner.view(), &w.mlp_out);
        }
        norm(&mut x, &self.weights.final_norm, eps);
        let head = self.weights.lm_head();
        let logits = if x.nrows() == 1 {
            // Row-major [vocab, hidden] times one row: a dot per vocabulary row, no packing
            // copy of the (largest) matrix.
            head.dot(&x.row(0)).insert_axis(Axis(0))
        } else {
            x.dot(&head.t())
        };
        Ok(StepOutput { logits, positions })
    }

    fn embed(&self, ids: &[u32], start: usize) -> Result<Array2<f32>, ModelError> {
        let w = &self.weights;
        let mut x = Array2::zeros((ids.len(), self.config.hidden_size));
        for (i, (&id, mut row)) in ids.iter().zip(x.rows_mut()).enumerate() {
            if id as usize >= w.embed.nrows() {
                return Err(ModelError::TokenId {
                    id,
                    vocab_size: self.config.vocab_size,
                });
            }
            row.assign(&w.embed.row(id as usize));
            if let Some(pos) = &w.positions {
                row += &pos.row(start + i);
            }
        }
        Ok(x)
    }
}

/// The index of the largest logit (the first one on ties).
pub fn argmax(row: ndarray::ArrayView1<f32>) -> u32 {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best as u32
}

fn dir_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "decoder".to_string())
}

fn norm(x: &mut Array2<f32>, n: &Norm, eps: f32) {
    match n {
        Norm::Layer(ln) => layer_norm(x, ln, eps),
        Norm::Rms(g) => rms_norm(x, g, eps),
    }
}

/// Rotary embedding in Hugging Face's "rotate half" layout on every head of `x`
/// ([rows, heads x d]): for i < d/2, with angle = position theta^(-2i/d),
/// `(a, b) = (x_i, x_{i+d/2}) -> (a cos - b sin, b cos + a sin)`. Computed in f32 as
/// transformers does.
fn rope(x: &mut ndarray::ArrayViewMut2<f32>, positions: &[usize], d: usize, theta: f32) {
    let half = d / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / theta.powf((2 * i) as f32 / d as f32))
        .collect();
    for (mut row, &p) in x.rows_mut().into_iter().zip(positions) {
        let (sin, cos): (Vec<f32>, Vec<f32>) =
            inv.iter().map(|&f| (p as f32 * f).sin_cos()).unzip();
        let row = row.as_slice_mut().expect("standard layout rows");
        for head in row.chunks_exact_mut(d) {
            for i in 0..half {
                let (a, b) = (head[i], head[i + half]);
                head[i] = a * cos[i] - b * sin[i];
                head[i + half] = b * cos[i] + a * sin[i];
            }
        }
    }
}

/// [tokens, heads x d] -> [heads, tokens, d]
fn split_heads(x: ArrayView2<f32>, heads: usize, d: usize) -> Array3<f32> {
    let t = x.nrows();
    x.to_owned()
        .into_shape_with_order((t, heads, d))
        .expect("width = heads x d")
        .permuted_axes([1, 0, 2])
        .as_standard_layout()
        .into_owned()
}

/// [heads, tokens, d] -> [tokens, heads x d]
fn merge_heads(x: Array3<f32>) -> Array2<f32> {
    let (heads, t, d) = x.dim();
    x.permuted_axes([1, 0, 2])
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((t, heads * d))
        .expect("standard layout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_at_position_zero_is_identity_and_preserves_norm() {
        let mut x = Array2::from_shape_fn((2, 8), |(r, c)| (r * 8 + c) as f32 * 0.1 - 0.3);
        let orig = x.clone();
        rope(&mut x.view_mut(), &[0, 5], 4, 10000.0);
        assert_eq!(x.row(0), orig.row(0));
        for h in 0..2 {
            let n = |a: &Array2<f32>| {
                a.slice(s![1, h * 4..h * 4 + 4])
                    .iter()
                    .map(|v| v * v)
                    .sum::<f32>()
            };
            assert!((n(&x) - n(&orig)).abs() < 1e-5);
        }
        // Pair (x0, x2) of the first head at position 5 rotates by 5 rad (inv freq 1).
        let (a, b) = (orig[[1, 0]], orig[[1, 2]]);
        assert!((x[[1, 0]] - (a * 5f32.cos() - b * 5f32.sin())).abs() < 1e-6);
    }
}
