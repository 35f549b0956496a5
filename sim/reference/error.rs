//! Typed errors of the reference model: bad shapes or values given to it.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ReferenceError {
    #[error("value tensors: {what} has shape {got:?}, the workload needs {want:?}")]
    Shape {
        what: String,
        got: Vec<usize>,
        want: Vec<usize>,
    },
    #[error("value tensors: {what} holds {count} layers, the workload has {want}")]
    LayerCount {
        what: String,
        count: usize,
        want: usize,
    },
    #[error("value tensors: {what} is {got}, the workload says {want}")]
    Mismatch { what: String, got: u64, want: u64 },
    #[error("{what}: element {index} is {value}, not a finite number")]
    NonFinite {
        what: String,
        index: usize,
        value: f32,
    },
    #[error("layer input: {reason}")]
    Input { reason: String },
    #[error(
        "stage.batch = {0}: these values are one sequence's; a batch runs each sequence on \
         its own values (synthetic, one seed per sequence: `spatten run` or `spatten trace \
         reference` without --values)"
    )]
    Batch(u32),
    #[error("golden vectors: {0}")]
    Golden(String),
}

impl From<crate::output_dir::OutputError> for ReferenceError {
    fn from(e: crate::output_dir::OutputError) -> Self {
        ReferenceError::Golden(e.to_string())
    }
}
