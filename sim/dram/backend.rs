//! Picks a DRAM back-end by name: what `spatten run --dram native|dramsim3|simple` uses.

use std::fmt;
use std::str::FromStr;

use super::Dram;
use super::hbm::HbmDram;
use super::simple::SimpleDram;
use crate::config::{ConfigError, HbmConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DramKind {
    /// The command-level model in `dram::hbm`.
    Native,
    /// DRAMsim3 through the `dramsim3` crate (cargo feature `dramsim3`).
    Dramsim3,
    /// Bandwidth + fixed latency, no banks or refresh.
    Simple,
}

impl FromStr for DramKind {
    type Err = DramError;

    fn from_str(s: &str) -> Result<Self, DramError> {
        match s {
            "native" => Ok(Self::Native),
            "dramsim3" => Ok(Self::Dramsim3),
            "simple" => Ok(Self::Simple),
            other => Err(DramError::UnknownKind(other.to_string())),
        }
    }
}

impl fmt::Display for DramKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Native => "native",
            Self::Dramsim3 => "dramsim3",
            Self::Simple => "simple",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DramError {
    #[error("unknown DRAM back-end {0:?} (expected native, dramsim3 or simple)")]
    UnknownKind(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "this build has no DRAMsim3 back-end: rebuild with `--features dramsim3` (needs cmake)"
    )]
    Dramsim3NotBuilt,
    #[error("DRAMsim3 back-end: {0}")]
    Dramsim3(String),
}

/// Builds a back-end for the `[hbm]` table with `request_bytes`-byte transactions.
pub fn make_dram(
    kind: DramKind,
    hbm: &HbmConfig,
    request_bytes: u32,
) -> Result<Box<dyn Dram>, DramError> {
    match kind {
        DramKind::Native => Ok(Box::new(HbmDram::new(hbm, request_bytes)?)),
        DramKind::Simple => Ok(Box::new(SimpleDram::from_config(hbm, request_bytes))),
        #[cfg(feature = "dramsim3")]
        DramKind::Dramsim3 => Ok(Box::new(super::dramsim3::Dramsim3Dram::new(
            hbm,
            request_bytes,
        )?)),
        #[cfg(not(feature = "dramsim3"))]
        DramKind::Dramsim3 => Err(DramError::Dramsim3NotBuilt),
    }
}
