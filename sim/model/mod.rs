//! A small f32 transformer (BERT encoder) over real weights, used to capture Q/K/V values and
//! to measure what pruning and quantization cost in accuracy.
//!
//! Load with [`BertModel::load`]; embed with [`BertModel::embed`] (dense) or
//! [`BertModel::embed_with`] (any [`AttentionKernel`]); record Q/K/V with [`capture`]; score on
//! STS with [`read_sts`] + [`evaluate`], and compare two runs with [`embedding_drift`].

pub mod attention;
pub mod bert;
pub mod capture;
pub mod error;
pub mod eval;
pub mod reference_kernel;
pub mod stats;
pub mod stsb;
pub mod tokenizer;
pub mod weights;

pub use attention::{
    AttentionKernel, AttentionOutput, CaptureKernel, DenseAttention, attention_probs,
    dense_attention,
};
pub use bert::{BertModel, Embedding};
pub use capture::capture;
pub use error::ModelError;
pub use eval::{AccuracyReport, Drift, embedding_drift, evaluate};
pub use reference_kernel::{ReferenceAttention, workload_for_model};
pub use stats::{cosine, spearman};
pub use stsb::{StsError, StsPair, read_sts};
pub use tokenizer::WordPieceTokenizer;
pub use weights::BertConfig;
