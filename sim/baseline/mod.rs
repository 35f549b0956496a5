//! Baselines: CPU/GPU/accelerator device profiles and the measured host CPU.
//!
//! - [`profile`]: device profiles (`arch/baselines/*.toml`, embedded as presets), every number
//!   with a `source`.
//! - [`work`]: the operations and bytes of dense attention for a workload, per stage.
//! - [`framework`]: the operators eager PyTorch dispatches for HF-style attention, and the
//!   three baseline models (eager, ideal kernels, fused).
//! - [`roofline`]: modelled latency and energy of a profile on a workload under a model.
//! - [`fit`]: the eager model's constants fitted to the paper's published measurements.
//! - [`cpu`]: our own f32 dense attention, timed on this machine ([`rapl`] for its energy).
//! - [`torch`]: the HF attention code in eager PyTorch on this machine (the paper's protocol).
//! - [`result`]: the baseline result file (JSON) that reports read, also written by
//!   `scripts/gpu_baseline.py`.
//!
//! Every result is tagged [`Provenance::Measured`] or [`Provenance::Modelled`].

pub mod cpu;
pub mod fit;
pub mod framework;
pub mod presets;
pub mod profile;
pub mod rapl;
pub mod result;
pub mod roofline;
pub mod stats;
pub mod torch;
pub mod work;

use std::path::PathBuf;

pub use framework::BaselineModel;
pub use profile::{DeviceKind, DeviceProfile, Sourced, load_profile};
pub use result::{BaselineResult, Provenance, StageResult};
pub use roofline::{model_presets, model_presets_as, model_workload, model_workload_as};
pub use work::{Precision, StageKindLabel, StageWork, attention_work};

use crate::config::ConfigError;

/// Errors of the baseline module: bad profiles or result files, I/O, unsupported requests.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// A profile or result file is malformed (names file, line, key and reason).
    #[error(transparent)]
    Config(#[from] ConfigError),
    // The cause is part of the message, not a `source`, so `{:#}` does not repeat it.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A request the profile or workload cannot answer, e.g. fp16 on a profile without an fp16
    /// peak.
    #[error("{0}")]
    Unsupported(String),
}
