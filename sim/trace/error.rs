//! Typed errors for value files, trace files and trace imports; each names the file and,
//! where there is one, the tensor, metadata key or line at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    // The I/O error is part of the message, not a `source`, so `{:#}` does not repeat it.
    #[error("{}: {action}: {error}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
    },
    /// Truncated or otherwise unreadable safetensors container.
    #[error("{}: not a readable safetensors file ({reason})", path.display())]
    Container { path: PathBuf, reason: String },
    #[error("{}: metadata key `{key}` {reason}", path.display())]
    Metadata {
        path: PathBuf,
        key: String,
        reason: String,
    },
    #[error("{}: tensor `{tensor}` {reason}", path.display())]
    Tensor {
        path: PathBuf,
        tensor: String,
        reason: String,
    },
    /// The columns decode but describe an impossible trace.
    #[error("{}: inconsistent trace: {reason}", path.display())]
    Inconsistent { path: PathBuf, reason: String },
    #[error("{}:{line}: {reason}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    /// An in-memory value set or trace that cannot be written as asked.
    #[error("{}: cannot write: {reason}", path.display())]
    Unwritable { path: PathBuf, reason: String },
}
