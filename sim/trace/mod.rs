//! Value tensors and attention traces: in-memory forms, file formats, converters, generators.

pub mod attention;
pub mod batch;
pub mod container;
pub mod error;
pub mod index_codec;
pub mod refetch;
pub mod savings;
pub mod spatten_csv;
pub mod stats;
pub mod synth;
pub mod totals;
pub mod trace_check;
pub mod trace_file;
pub mod values;
pub mod values_file;

pub use attention::{
    AttentionTrace, HeadCall, LayerRecord, ReferenceDesign, TopkCall, TopkPurpose, TopkStage,
    TraceHeader,
};
pub use error::TraceError;
pub use stats::{AttentionStats, attention_stats};
pub use synth::{SynthKnobs, SynthLayers, generate, synth_source};
pub use trace_file::{read_trace, write_trace};
pub use values::{LayerValues, ValueMeta, ValueTensors};
pub use values_file::{read_values, write_values};
