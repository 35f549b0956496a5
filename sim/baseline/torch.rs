//! `spatten baseline measure-cpu --framework torch`: the paper's protocol with real PyTorch on
//! this machine, so the modelled framework overhead ([`super::framework`]) can be set beside a
//! measured one.
//!
//! The timing itself is `scripts/gpu_baseline.py` (embedded, so an installed binary needs no
//! checkout) run with `--device cpu --code hf`: the HF models' attention operators in eager
//! mode, `--runs` timed runs after `--warmup`, latency = mean after dropping the top and bottom
//! 15 %. The script does not measure CPU power; the energy here is the host profile's dynamic
//! power scaled by threads / cores, and the result says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::BaselineError;
use super::cpu::profile_power;
use super::profile::DeviceProfile;
use super::result::BaselineResult;
use crate::config::WorkloadConfig;
use crate::config::workload::StageKind;

/// The script, embedded.
pub const SCRIPT: &str = include_str!("../../scripts/gpu_baseline.py");

/// Options of a PyTorch measurement.
pub struct TorchOptions {
    /// The interpreter that has `torch` (default `python3`).
    pub python: PathBuf,
    pub runs: u32,
    pub warmup: u32,
    /// torch.set_num_threads; `None` leaves PyTorch's default (all cores).
    pub threads: Option<usize>,
}

/// A scratch folder removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, BaselineError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("spatten-torch-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|error| BaselineError::Io {
            path: dir.clone(),
            error,
        })?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The script's arguments for a workload.
pub fn script_args(w: &WorkloadConfig, o: &TorchOptions, out: &Path) -> Vec<String> {
    let stage = match w.stage.kind {
        StageKind::Summarization => "summarization",
        StageKind::Generation => "generation",
    };
    let mut args: Vec<String> = [
        "--device",
        "cpu",
        "--code",
        "hf",
        "--name",
        &w.name,
        "--layers",
        &w.model.layers.to_string(),
        "--heads",
        &w.model.heads.to_string(),
        "--head-dim",
        &w.model.head_dim.to_string(),
        "--stage",
        stage,
        "--prompt-tokens",
        &w.stage.prompt_tokens.to_string(),
        "--generated-tokens",
        &w.stage.generated_tokens.to_string(),
        "--runs",
        &o.runs.to_string(),
        "--warmup",
        &o.warmup.to_string(),
        "--seed",
        &w.seed.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if w.model.causal {
        args.push("--causal".into());
    }
    if let Some(t) = o.threads {
        args.extend(["--threads".into(), t.to_string()]);
    }
    args.extend(["--out".into(), out.display().to_string()]);
    args
}

/// Runs the measurement and returns a `measured` result with the host profile's energy.
pub fn measure_torch(
    w: &WorkloadConfig,
    o: &TorchOptions,
    host: &DeviceProfile,
) -> Result<BaselineResult, BaselineError> {
    if w.stage.batch > 1 {
        return Err(BaselineError::Unsupported(format!(
            "stage.batch = {}: measurements time one sequence; measure with batch = 1 (the \
             modelled baselines scale to a batch)",
            w.stage.batch
        )));
    }
    if o.runs == 0 {
        return Err(BaselineError::Unsupported(
            "--repeats must be at least 1".into(),
        ));
    }
    if o.threads == Some(0) {
        return Err(BaselineError::Unsupported(
            "--threads must be at least 1".into(),
        ));
    }
    let scratch = Scratch::new()?;
    let script = scratch.0.join("gpu_baseline.py");
    std::fs::write(&script, SCRIPT).map_err(|error| BaselineError::Io {
        path: script.clone(),
        error,
    })?;
    let out = scratch.0.join("result.json");
    let status = Command::new(&o.python)
        .arg(&script)
        .args(script_args(w, o, &out))
        .status()
        .map_err(|e| {
            BaselineError::Unsupported(format!("cannot run {} (--python): {e}", o.python.display()))
        })?;
    if !status.success() {
        return Err(BaselineError::Unsupported(format!(
            "the PyTorch measurement with {} failed ({status}); its message is above (PyTorch missing? pip install torch, or pass --python)",
            o.python.display()
        )));
    }
    let mut r = BaselineResult::read(&out)?;
    let threads = match o.threads {
        Some(t) => t,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let (watts, basis) = profile_power(host, threads)?;
    for s in &mut r.stages {
        s.power_w = watts;
        s.energy_j = watts * s.latency_s;
    }
    r.energy_method = format!(
        "{basis}, x trimmed-mean latency (an estimate, not a measurement; the script does not read CPU power)"
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_workload;

    #[test]
    fn arguments_carry_the_shape_and_protocol() {
        let w = load_workload("gpt2-small").unwrap();
        let o = TorchOptions {
            python: "python3".into(),
            runs: 1000,
            warmup: 50,
            threads: Some(2),
        };
        let a = script_args(&w, &o, Path::new("out.json")).join(" ");
        for want in [
            "--device cpu --code hf",
            "--layers 12 --heads 12 --head-dim 64 --stage generation",
            "--prompt-tokens 992 --generated-tokens 32",
            "--runs 1000 --warmup 50",
            "--causal --threads 2 --out out.json",
        ] {
            assert!(a.contains(want), "{a}");
        }
    }

    #[test]
    fn a_missing_interpreter_is_a_clear_error() {
        let w = load_workload("bert-base").unwrap();
        let o = TorchOptions {
            python: "/nonexistent/python3".into(),
            runs: 1,
            warmup: 0,
            threads: None,
        };
        let host = crate::baseline::load_profile("generic-host").unwrap();
        let e = measure_torch(&w, &o, &host).unwrap_err().to_string();
        assert!(
            e.contains("cannot run /nonexistent/python3 (--python)"),
            "{e}"
        );
    }
}
