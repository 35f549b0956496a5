//! The f32 BERT encoder forward pass with mean pooling and L2 normalisation (the
//! sentence-transformers recipe of all-MiniLM-L6-v2).
//!
//! No padding: sentences of a batch share only the row-wise work (projections, feed-forward,
//! normalisations), attention runs per sentence, so results are independent of how sentences
//! are grouped or threaded (bit-identical at any rayon thread count). Masked positions in a
//! padded batch get exactly zero probability after softmax, so the result equals the
//! padded-batch one.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3, Axis, Zip, s};

use super::attention::{AttentionKernel, DenseAttention};
use super::error::ModelError;
use super::ops::{gelu, layer_norm, linear};
use super::tokenizer::WordPieceTokenizer;
use super::weights::{BertConfig, BertWeights};

#[derive(Debug, Clone)]
pub struct BertModel {
    name: String,
    dir: PathBuf,
    config: BertConfig,
    weights: BertWeights,
    tokenizer: WordPieceTokenizer,
}

/// A sentence embedding and what survived to the end of the encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Mean-pooled, L2-normalised, [hidden].
    pub vector: Array1<f32>,
    /// Tokens the sentence entered with, `[CLS]` and `[SEP]` included.
    pub tokens: usize,
    /// Original positions of the tokens alive after the last layer (the ones pooled).
    pub surviving: Vec<usize>,
}

impl BertModel {
    /// Loads `config.json`, `vocab.txt` and `model.safetensors` from `dir`. The model's name
    /// (recorded in captured value files) is the directory's name.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingDir {
                path: dir.to_path_buf(),
            });
        }
        let file = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(ModelError::MissingFile { path })
            }
        };
        let (config_path, vocab_path, weights_path) = (
            file("config.json")?,
            file("vocab.txt")?,
            file("model.safetensors")?,
        );
        let config = BertConfig::from_file(&config_path)?;
        let tokenizer = WordPieceTokenizer::from_vocab_file(&vocab_path)?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(ModelError::Vocab {
                path: vocab_path,
                reason: format!(
                    "{} tokens but config.json declares vocab_size {}",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        let weights = BertWeights::from_file(&weights_path, &config)?;
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "bert".to_string());
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            config,
            weights,
            tokenizer,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    pub fn tokenizer(&self) -> &WordPieceTokenizer {
        &self.tokenizer
    }

    /// `[CLS] pieces [SEP]`, truncated to the model's positions.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        self.tokenizer
            .encode(text, self.config.max_position_embeddings)
    }

    /// The dense sentence embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Array1<f32>, ModelError> {
        Ok(self.embed_with(text, &mut DenseAttention)?.vector)
    }

    pub fn embed_with(
        &self,
        text: &str,
        kernel: &mut dyn AttentionKernel,
    ) -> Result<Embedding, ModelError> {
        let ids = self.encode(text)?;
        self.forward(&ids, kernel)
    }

    /// Runs the encoder on token ids (`[CLS]`/`[SEP]` included), attention by `kernel`.
    pub fn forward(
        &self,
        ids: &[u32],
        kernel: &mut dyn AttentionKernel,
    ) -> Result<Embedding, ModelError> {
        let mut embeddings = self.forward_batch(&[ids], &mut [kernel])?;
        Ok(embeddings
            .pop()
            .expect("one sentence in, one embedding out"))
    }

    /// Runs the encoder on several sentences, each with its own kernel. The projections and
    /// the feed-forward see every sentence's rows stacked, so the weights are packed for the
    /// matrix kernel once per layer rather than once per sentence (the packing cost more than
    /// the products on STS-length sentences); attention stays per sentence. Each output row of
    /// a matrix product is accumulated in the same order whatever rows share the product, so
    /// every embedding is bit-identical to a one-sentence call.
    pub fn forward_batch<K: AttentionKernel>(
        &self,
        sentences: &[&[u32]],
        kernels: &mut [K],
    ) -> Result<Vec<Embedding>, ModelError> {
        assert_eq!(sentences.len(), kernels.len(), "one kernel per sentence");
        let cfg = &self.config;
        let mut inputs = Vec::with_capacity(sentences.len());
        for ids in sentences {
            if ids.is_empty() {
                return Err(ModelError::EmptyText);
            }
            if ids.len() > cfg.max_position_embeddings {
                return Err(ModelError::TooManyTokens {
                    tokens: ids.len(),
                    max: cfg.max_position_embeddings,
                });
            }
            inputs.push(self.embeddings(ids)?);
        }
        let eps = cfg.layer_norm_eps as f32;
        let h = cfg.hidden_size;
        let views: Vec<_> = inputs.iter().map(|x| x.view()).collect();
        let mut hidden = ndarray::concatenate(Axis(0), &views).expect("rows of equal width");
        layer_norm(&mut hidden, &self.weights.embed_norm, eps);
        // Original positions alive in each sentence; its rows of `hidden` follow the previous
        // sentence's.
        let mut alive: Vec<Vec<usize>> = sentences
            .iter()
            .map(|ids| (0..ids.len()).collect())
            .collect();

        for (l, w) in self.weights.layers.iter().enumerate() {
            let qkv = linear(hidden.view(), &w.qkv);
            let mut context = Array2::zeros((hidden.nrows(), h));
            let mut keep_rows = Vec::with_capacity(hidden.nrows());
            let mut first = 0;
            for (kernel, alive) in kernels.iter_mut().zip(alive.iter_mut()) {
                let rows = first..first + alive.len();
                let qkv = qkv.slice(s![rows.clone(), ..]);
                let q = self.split_heads(qkv.slice(s![.., ..h]).to_owned());
                let k = self.split_heads(qkv.slice(s![.., h..2 * h]).to_owned());
                let v = self.split_heads(qkv.slice(s![.., 2 * h..]).to_owned());
                let out = kernel.attend(l, q.view(), k.view(), v.view())?;
                check_output(l, q.dim(), &out.context, &out.keep)?;
                context
                    .slice_mut(s![rows, ..])
                    .assign(&self.merge_heads(out.context));
                keep_rows.extend(out.keep.iter().map(|&i| first + i));
                first += alive.len();
                if out.keep.len() != alive.len() {
                    *alive = out.keep.iter().map(|&i| alive[i]).collect();
                }
            }

            let mut attn = linear(context.view(), &w.attn_out);
            attn += &hidden;
            layer_norm(&mut attn, &w.attn_norm, eps);
            // Row-wise from here on, so dropping pruned rows now equals dropping them later.
            if keep_rows.len() != attn.nrows() {
                attn = attn.select(Axis(0), &keep_rows);
            }

            let mut inter = linear(attn.view(), &w.ffn_in);
            inter.mapv_inplace(gelu);
            let mut ffn = linear(inter.view(), &w.ffn_out);
            ffn += &attn;
            layer_norm(&mut ffn, &w.ffn_norm, eps);
            hidden = ffn;
        }

        let mut first = 0;
        Ok(sentences
            .iter()
            .zip(alive)
            .map(|(ids, surviving)| {
                let rows = hidden
                    .slice(s![first..first + surviving.len(), ..])
                    .to_owned();
                first += surviving.len();
                Embedding {
                    vector: l2_normalize(mean_rows(&rows)),
                    tokens: ids.len(),
                    surviving,
                }
            })
            .collect())
    }

    fn embeddings(&self, ids: &[u32]) -> Result<Array2<f32>, ModelError> {
        let w = &self.weights;
        let mut x = Array2::zeros((ids.len(), self.config.hidden_size));
        // Single-sentence input: every token has segment 0.
        let segment = w.token_type_embeddings.row(0);
        for (pos, (&id, mut row)) in ids.iter().zip(x.rows_mut()).enumerate() {
            if id as usize >= w.word_embeddings.nrows() {
                return Err(ModelError::TokenId {
                    id,
                    vocab_size: self.config.vocab_size,
                });
            }
            let word = w.word_embeddings.row(id as usize);
            Zip::from(&mut row)
                .and(&word)
                .and(&w.position_embeddings.row(pos))
                .and(&segment)
                .for_each(|o, &a, &b, &c| *o = a + b + c);
        }
        Ok(x)
    }

    /// [tokens, hidden] -> [heads, tokens, head_dim]
    fn split_heads(&self, x: Array2<f32>) -> Array3<f32> {
        let (t, heads, d) = (
            x.nrows(),
            self.config.num_attention_heads,
            self.config.head_dim(),
        );
        x.into_shape_with_order((t, heads, d))
            .expect("hidden = heads * head_dim, checked at load")
            .permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_owned()
    }

    /// [heads, tokens, head_dim] -> [tokens, hidden]
    fn merge_heads(&self, x: Array3<f32>) -> Array2<f32> {
        let (heads, t, d) = x.dim();
        x.permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((t, heads * d))
            .expect("standard layout")
    }
}

pub(crate) fn check_output(
    layer: usize,
    (heads, tokens, head_dim): (usize, usize, usize),
    context: &Array3<f32>,
    keep: &[usize],
) -> Result<(), ModelError> {
    let bad = |reason: String| Err(ModelError::Kernel { layer, reason });
    if context.dim() != (heads, tokens, head_dim) {
        return bad(format!(
            "context has shape {:?}, expected {:?}",
            context.shape(),
            [heads, tokens, head_dim]
        ));
    }
    if keep.is_empty() {
        return bad("it kept no token".into());
    }
    if keep.windows(2).any(|w| w[0] >= w[1]) || keep[keep.len() - 1] >= tokens {
        return bad(format!(
            "kept rows must be strictly increasing and below {tokens}, got {keep:?}"
        ));
    }
    Ok(())
}

fn mean_rows(x: &Array2<f32>) -> Array1<f32> {
    x.sum_axis(Axis(0)) / x.nrows() as f32
}

/// As torch's `F.normalize`: divide by the norm, floored at 1e-12.
fn l2_normalize(v: Array1<f32>) -> Array1<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_output_checks_reject_bad_keep_lists() {
        let ctx = Array3::zeros((2, 4, 3));
        assert!(check_output(0, (2, 4, 3), &ctx, &[0, 2, 3]).is_ok());
        assert!(check_output(0, (2, 4, 3), &ctx, &[]).is_err());
        assert!(check_output(0, (2, 4, 3), &ctx, &[1, 1]).is_err());
        assert!(check_output(0, (2, 4, 3), &ctx, &[0, 4]).is_err());
        assert!(check_output(1, (2, 5, 3), &ctx, &[0]).is_err());
    }
}
