//! The baseline result file (JSON) that reports read.
//!
//! Written by `spatten baseline measure-cpu` / `model` and by `scripts/gpu_baseline.py`.
//! Format `spatten-baseline`, version 1:
//!
//! ```json
//! {
//!   "format": "spatten-baseline", "version": 1,
//!   "device": "titan-xp", "device_description": "NVIDIA TITAN Xp ...", "device_kind": "gpu",
//!   "provenance": "measured",            // or "modelled"
//!   "precision": "fp32",                 // or "fp16"
//!   "workload": { "name": "bert-base", "layers": 12, "heads": 12, "head_dim": 64,
//!                 "causal": false, "stage": "summarization",
//!                 "prompt_tokens": 128, "generated_tokens": 0 },
//!   "energy_method": "how energy was obtained, in words",
//!   "stages": [ { "stage": "summarization",          // then "generation" if any
//!                 "ops": 25362432, "bytes": 9437184,  // dense-attention counts (work.rs)
//!                 "latency_s": 0.00021,               // median for measured results
//!                 "power_w": 120.0,                   // dynamic power (loaded - idle)
//!                 "energy_j": 0.0252,                 // power_w x latency_s
//!                 "timing": { "runs": 1000, "warmup": 50, "median_s": 0.00021,
//!                             "trimmed_mean_s": 0.000212, "trim_fraction": 0.15,
//!                             "min_s": 0.0002, "max_s": 0.0004, "threads": 10 } } ],
//!   "notes": [ "free text" ]
//! }
//! ```
//! `timing` is present for measured stages only; `threads` is optional. Unknown keys are
//! rejected.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::BaselineError;
use super::profile::DeviceKind;
use super::work::{Precision, StageKindLabel, work_for_shape};
use crate::config::ConfigError;
use crate::config::WorkloadConfig;
use crate::config::workload::StageKind;

pub const FORMAT: &str = "spatten-baseline";
pub const VERSION: u32 = 1;

/// Whether a baseline's numbers were measured on real hardware or modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provenance {
    Measured,
    Modelled,
}

impl Provenance {
    pub fn label(self) -> &'static str {
        match self {
            Provenance::Measured => "measured",
            Provenance::Modelled => "modelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineResult {
    pub format: String,
    pub version: u32,
    pub device: String,
    pub device_description: String,
    pub device_kind: DeviceKind,
    pub provenance: Provenance,
    pub precision: Precision,
    pub workload: WorkloadShape,
    pub energy_method: String,
    pub stages: Vec<StageResult>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The workload shape a result was obtained for (enough to check it matches a run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadShape {
    pub name: String,
    pub layers: u32,
    pub heads: u32,
    pub head_dim: u32,
    pub causal: bool,
    pub stage: StageKind,
    pub prompt_tokens: u32,
    pub generated_tokens: u32,
    /// Independent sequences timed together (`stage.batch`); absent = one.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub batch: u32,
}

fn one() -> u32 {
    1
}

fn is_one(b: &u32) -> bool {
    *b == 1
}

impl WorkloadShape {
    pub fn of(w: &WorkloadConfig) -> Self {
        Self {
            name: w.name.clone(),
            layers: w.model.layers,
            heads: w.model.heads,
            head_dim: w.model.head_dim,
            causal: w.model.causal,
            stage: w.stage.kind,
            prompt_tokens: w.stage.prompt_tokens,
            generated_tokens: w.stage.generated_tokens,
            batch: w.stage.batch,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageResult {
    pub stage: StageKindLabel,
    pub ops: u64,
    pub bytes: u64,
    pub latency_s: f64,
    pub power_w: f64,
    pub energy_j: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<TimingStats>,
}

/// Statistics of repeated timed runs of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingStats {
    pub runs: u32,
    pub warmup: u32,
    pub median_s: f64,
    pub trimmed_mean_s: f64,
    pub trim_fraction: f64,
    pub min_s: f64,
    pub max_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

impl StageResult {
    /// Throughput in operations of the dense attention per second, GOP/s.
    pub fn throughput_gops(&self) -> f64 {
        self.ops as f64 / self.latency_s / 1e9
    }
}

impl BaselineResult {
    pub fn total_latency_s(&self) -> f64 {
        self.stages.iter().map(|s| s.latency_s).sum()
    }

    pub fn total_energy_j(&self) -> f64 {
        self.stages.iter().map(|s| s.energy_j).sum()
    }

    pub fn total_ops(&self) -> u64 {
        self.stages.iter().map(|s| s.ops).sum()
    }

    pub fn stage(&self, stage: StageKindLabel) -> Option<&StageResult> {
        self.stages.iter().find(|s| s.stage == stage)
    }

    /// Checks the invariants a reader relies on; the key names the offending field.
    pub fn violations(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        if self.format != FORMAT {
            v.push((
                "format".into(),
                format!("must be {FORMAT:?} (got {:?})", self.format),
            ));
        }
        if self.version != VERSION {
            v.push((
                "version".into(),
                format!(
                    "unsupported version {} (this reader knows {VERSION})",
                    self.version
                ),
            ));
        }
        if self.stages.is_empty() {
            v.push(("stages".into(), "must list at least one stage".into()));
        }
        let w = &self.workload;
        if w.layers == 0 || w.heads == 0 || w.head_dim == 0 || w.prompt_tokens == 0 {
            v.push((
                "workload".into(),
                "layers, heads, head_dim and prompt_tokens must be > 0".into(),
            ));
        }
        let work =
            (w.layers > 0 && w.heads > 0 && w.head_dim > 0 && w.prompt_tokens > 0).then(|| {
                work_for_shape(
                    w.layers as u64,
                    w.heads as u64,
                    w.head_dim as u64,
                    w.stage,
                    w.prompt_tokens as u64,
                    w.generated_tokens as u64,
                    self.precision,
                )
            });
        for (i, s) in self.stages.iter().enumerate() {
            // The counts must be the dense-attention counts of work.rs, so every baseline's
            // throughput is counted the same way.
            match work
                .as_ref()
                .map(|ws| ws.iter().find(|x| x.stage == s.stage))
            {
                Some(Some(x)) => {
                    if s.ops != x.ops() {
                        v.push((format!("stages[{i}].ops"), format!("{} does not match the dense-attention count {} for this workload shape", s.ops, x.ops())));
                    }
                    if s.bytes != x.bytes() {
                        v.push((format!("stages[{i}].bytes"), format!("{} does not match the dense-attention count {} for this workload shape and precision", s.bytes, x.bytes())));
                    }
                }
                Some(None) => v.push((
                    format!("stages[{i}].stage"),
                    format!(
                        "a {} workload has no {} stage",
                        w.stage.label(),
                        s.stage.label()
                    ),
                )),
                None => {}
            }
            if self.stages[..i].iter().any(|o| o.stage == s.stage) {
                v.push((
                    format!("stages[{i}].stage"),
                    format!("{} appears twice", s.stage.label()),
                ));
            }
            for (k, x, strict) in [
                ("latency_s", s.latency_s, true),
                ("power_w", s.power_w, false),
                ("energy_j", s.energy_j, false),
            ] {
                let ok = x.is_finite() && if strict { x > 0.0 } else { x >= 0.0 };
                if !ok {
                    let want = if strict { "> 0" } else { ">= 0" };
                    v.push((
                        format!("stages[{i}].{k}"),
                        format!("must be a finite number {want} (got {x})"),
                    ));
                }
            }
            if s.ops == 0 {
                v.push((format!("stages[{i}].ops"), "must be > 0".into()));
            }
            if let Some(t) = &s.timing {
                if t.runs == 0 {
                    v.push((format!("stages[{i}].timing.runs"), "must be > 0".into()));
                }
                if !(0.0..0.5).contains(&t.trim_fraction) {
                    v.push((
                        format!("stages[{i}].timing.trim_fraction"),
                        format!("must be in [0, 0.5) (got {})", t.trim_fraction),
                    ));
                }
                let ordered = t.min_s <= t.median_s
                    && t.median_s <= t.max_s
                    && t.min_s <= t.trimmed_mean_s
                    && t.trimmed_mean_s <= t.max_s;
                if !(ordered && t.min_s > 0.0 && t.max_s.is_finite()) {
                    v.push((
                        format!("stages[{i}].timing"),
                        "needs 0 < min_s <= median_s, trimmed_mean_s <= max_s".into(),
                    ));
                }
            }
        }
        v
    }

    /// Reads and validates a result file.
    pub fn read(path: &Path) -> Result<Self, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|e| BaselineError::Io {
            path: path.to_path_buf(),
            error: e,
        })?;
        Ok(Self::from_json(&text, path)?)
    }

    /// Parses and validates result JSON; `label` names the file in errors.
    pub fn from_json(text: &str, label: &Path) -> Result<Self, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let r: Self = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = (inner.line() > 0).then_some(inner.line());
            ConfigError::new(label, (key != ".").then_some(key), inner.to_string()).at_line(line)
        })?;
        if let Some((key, reason)) = r.violations().into_iter().next() {
            return Err(ConfigError::new(label, Some(key), reason));
        }
        Ok(r)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("result structs always serialize");
        s.push('\n');
        s
    }

    /// Writes the file atomically (temporary file in the same folder, then rename).
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        write_atomic(path, self.to_json().as_bytes())
    }

    /// A readable multi-line summary.
    pub fn summary(&self) -> String {
        let w = &self.workload;
        let mut s = format!(
            "{} ({}, {}) on {} [{}], {}\n  workload {}: {} layers x {} heads, D = {}, {} + {} tokens{}\n",
            self.device,
            self.device_kind.label(),
            self.provenance.label(),
            self.device_description,
            self.precision.label(),
            self.energy_method,
            w.name,
            w.layers,
            w.heads,
            w.head_dim,
            w.prompt_tokens,
            w.generated_tokens,
            if w.causal { ", causal" } else { "" },
        );
        for st in &self.stages {
            s += &format!(
                "  {:<13} {:>10.3} ms  {:>9.2} GOP/s  {:>10.4} J  {:>7.2} W  ({:.3} GOP, {:.1} MB)\n",
                st.stage.label(),
                st.latency_s * 1e3,
                st.throughput_gops(),
                st.energy_j,
                st.power_w,
                st.ops as f64 / 1e9,
                st.bytes as f64 / 1e6,
            );
            if let Some(t) = &st.timing {
                s += &format!(
                    "                median {:.3} ms, trimmed mean ({:.0} % each end) {:.3} ms, min {:.3} ms, max {:.3} ms, {} runs after {} warm-up{}\n",
                    t.median_s * 1e3,
                    t.trim_fraction * 100.0,
                    t.trimmed_mean_s * 1e3,
                    t.min_s * 1e3,
                    t.max_s * 1e3,
                    t.runs,
                    t.warmup,
                    t.threads
                        .map(|n| format!(", {n} threads"))
                        .unwrap_or_default(),
                );
            }
        }
        if self.stages.len() > 1 {
            s += &format!(
                "  {:<13} {:>10.3} ms  {:>9.2} GOP/s  {:>10.4} J\n",
                "total",
                self.total_latency_s() * 1e3,
                self.total_ops() as f64 / self.total_latency_s() / 1e9,
                self.total_energy_j()
            );
        }
        for n in &self.notes {
            s += &format!("  note: {n}\n");
        }
        s
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BaselineError> {
    let io = |e| BaselineError::Io {
        path: path.to_path_buf(),
        error: e,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
