//! Errors of the cycle simulator: bad traces, configurations it cannot run, and stalls
//! caught by the watchdog.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum SimError {
    #[error(
        "trace head call {index} (iteration {iteration}, layer {layer}, head {head}): {reason}"
    )]
    BadHeadCall {
        index: usize,
        iteration: u32,
        layer: u32,
        head: u32,
        reason: String,
    },
    #[error("trace: {0}")]
    BadTrace(String),
    #[error("memory model: {0}")]
    Dram(String),
    #[error("configuration key `{key}`: {reason}")]
    Config { key: String, reason: String },
    /// A module found another breaking what it relies on: a configuration that validation
    /// should have refused.
    #[error("module {module}: internal invariant broken: {reason} (please report this input)")]
    Invariant {
        module: &'static str,
        reason: String,
    },
    /// The pipeline made no progress for `idle_cycles`; `report` names the waiting modules
    /// and every FIFO's state.
    #[error(
        "watchdog: no progress for {idle_cycles} cycles at cycle {cycle}; stuck: {stuck}; {report}"
    )]
    Stalled {
        cycle: u64,
        idle_cycles: u64,
        stuck: String,
        report: String,
    },
}
