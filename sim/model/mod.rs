//! Small f32 transformers over real weights (a BERT encoder; GPT-2- and Llama-style decoders), used to capture Q/K/V values and
//! to measure what pruning and quantization cost in accuracy.
//!
//! Load with [`BertModel::load`]; embed with [`BertModel::embed`] (dense) or
//! [`BertModel::embed_with`] (any [`AttentionKernel`]); record Q/K/V with [`capture`]; score on
//! STS with [`read_sts`] + [`evaluate`], and compare two runs with [`embedding_drift`].

pub mod attention;
pub mod bert;
pub mod capture;
pub mod decoder;
pub mod decoder_attention;
pub mod decoder_config;
pub mod decoder_reference;
pub mod decoder_weights;
pub mod error;
pub mod eval;
pub mod hf_tokenizer;
pub mod lm_eval;
pub mod ops;
pub mod reference_kernel;
pub mod stats;
pub mod stsb;
pub mod tensors;
pub mod tokenizer;
pub mod weights;

pub use attention::{
    AttentionKernel, AttentionOutput, CaptureKernel, DenseAttention, attention_probs,
    dense_attention,
};
pub use bert::{BertModel, Embedding};
pub use capture::{capture, capture_decoder};
pub use decoder::{DecoderModel, KvCache, StepOutput};
pub use decoder_attention::{DecoderKernel, DenseCausal, causal_attention};
pub use decoder_config::{DecoderArch, DecoderConfig, decoder_dir, model_type};
pub use decoder_reference::{ReferenceDecoder, workload_for_decoder};
pub use error::ModelError;
pub use eval::{AccuracyReport, Drift, embedding_drift, evaluate};
pub use hf_tokenizer::HfTokenizer;
pub use lm_eval::{LmReport, evaluate_lm, heldout_split, score_window, scored_targets, windows};
pub use reference_kernel::{ReferenceAttention, workload_for_model};
pub use stats::{cosine, spearman};
pub use stsb::{StsError, StsPair, read_sts};
pub use tokenizer::WordPieceTokenizer;
pub use weights::BertConfig;
