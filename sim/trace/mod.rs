//! Value tensors and attention traces: in-memory forms, file formats, converters, generators.

pub mod attention;
pub mod values;

pub use attention::{AttentionTrace, HeadCall, LayerRecord, TopkCall, TopkPurpose, TraceHeader};
pub use values::{LayerValues, ValueMeta, ValueTensors};
