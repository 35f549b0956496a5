//! The bit-exact reference model of the datapath: decides every value and decision, knows
//! nothing about time. Its numerics are specified in SPEC.md beside this file.

pub mod error;
pub mod fixed;
pub mod golden;
pub mod importance;
pub mod layer;
pub mod policy;
pub mod prune;
pub mod pv;
pub mod qk;
pub mod quant;
pub mod quant_cache;
pub mod requant;
pub mod runner;
pub mod softmax;
pub mod topk;
pub mod zero_eliminator;

pub use error::ReferenceError;
pub use layer::{LayerResult, PruningState, attend_layer, attend_layer_rows, kv_format};
pub use runner::{
    LayerViews, check_layer_views, check_values, layer_views, run_workload, run_workload_streamed,
    run_workload_views, run_workload_with_progress,
};
