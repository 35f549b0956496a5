//! Everything that can go wrong loading or running the model, each naming the file and reason.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model directory {path} does not exist (fetch it with scripts/fetch-model.sh)")]
    MissingDir { path: PathBuf },

    #[error("model directory is missing {path}")]
    MissingFile { path: PathBuf },

    // The cause is part of the message, not a `source`, so `{:#}` does not repeat it.
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("{path}: invalid model config: {reason}")]
    Config { path: PathBuf, reason: String },

    #[error("{path}: not a valid safetensors file (truncated or corrupt?): {error}")]
    Safetensors {
        path: PathBuf,
        error: safetensors::SafeTensorError,
    },

    #[error("{path}: tensor `{name}` is missing")]
    MissingTensor { path: PathBuf, name: String },

    #[error("{path}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    TensorShape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    #[error("{path}: tensor `{name}` has dtype {found}, expected {expected}")]
    TensorDtype {
        path: PathBuf,
        name: String,
        found: String,
        expected: &'static str,
    },

    #[error("{path}: tensor `{name}` holds a non-finite value")]
    NonFinite { path: PathBuf, name: String },

    #[error("{path}: {reason}")]
    Vocab { path: PathBuf, reason: String },

    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    #[error("text is empty: it holds no token after normalisation")]
    EmptyText,

    #[error("token id {id} is outside the vocabulary of {vocab_size}")]
    TokenId { id: u32, vocab_size: usize },

    #[error("{tokens} tokens exceed the model's {max} positions")]
    TooManyTokens { tokens: usize, max: usize },

    #[error("{reason}")]
    Statistic { reason: String },

    #[error("attention kernel returned a bad result at layer {layer}: {reason}")]
    Kernel { layer: usize, reason: String },
}
