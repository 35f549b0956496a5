//! One experiment end to end: values -> reference -> attention trace -> cycle simulation ->
//! energy, area and baselines. The CLI, sweeps and the paper reproduction all run through here.

use std::path::PathBuf;

use serde::Serialize;

use crate::baseline::{self, BaselineResult, Precision};
use crate::budget;
use crate::config::workload::{
    LocalVConfig, ModelShape, PruningSchedule, QuantConfig, QuantMode, StageConfig,
};
use crate::config::{self, ArchConfig, WorkloadConfig};
pub use crate::dram::backend::DramKind;
use crate::dram::backend::make_dram;
use crate::energy::{AreaBreakdown, EnergyReport};
use crate::hw::{self, SimOptions, SimStats};
use crate::trace::{self, AttentionTrace, SynthKnobs, TraceHeader};

/// Where the attention decisions come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Values from the synthetic generator (default knobs), seeded by the workload's seed.
    Synthetic,
    /// A value tensor file, run through the reference.
    Values(PathBuf),
    /// A ready attention trace (the reference is skipped).
    Trace(PathBuf),
}

impl Input {
    pub fn describe(&self) -> String {
        match self {
            Input::Synthetic => "synthetic values (the default knobs for the model: decoder fit if causal, MiniLM fit otherwise)".into(),
            Input::Values(p) => format!("value file {}", p.display()),
            Input::Trace(p) => format!("trace file {}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Experiment {
    pub name: String,
    pub arch: ArchConfig,
    /// Required for `Synthetic` and `Values`; with `Trace` a dense workload of the trace's
    /// shape is used for the baselines when none is given.
    pub workload: Option<WorkloadConfig>,
    pub input: Input,
    pub dram: DramKind,
    pub timeline: bool,
}

/// Identifies what produced a result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub tool_version: String,
    pub arch: String,
    pub arch_hash: String,
    pub workload: String,
    pub workload_hash: String,
    pub seed: u64,
    pub input: String,
    pub dram_model: String,
}

#[derive(Debug, Clone)]
pub struct ExperimentResult {
    pub name: String,
    pub provenance: Provenance,
    pub arch: ArchConfig,
    pub workload: WorkloadConfig,
    pub trace: AttentionTrace,
    pub stats: SimStats,
    pub energy: EnergyReport,
    pub area: AreaBreakdown,
    /// Modelled device profiles and accelerators, plus any measured files given.
    pub baselines: Vec<BaselineResult>,
}

impl Experiment {
    pub fn run(&self) -> anyhow::Result<ExperimentResult> {
        self.run_with(&mut |_| {})
    }

    /// Runs, reporting each phase's name to `phase` (for progress displays).
    pub fn run_with(&self, phase: &mut dyn FnMut(&str)) -> anyhow::Result<ExperimentResult> {
        if let (Some(w), false) = (&self.workload, matches!(self.input, Input::Trace(_))) {
            // Before any value is made: can this design point run the workload at all, and
            // does the whole run fit the memory and work limits?
            config::check_feasible(&self.arch, w)?;
            let supply = match self.input {
                Input::Synthetic => budget::ValueSupply::Synthetic,
                _ => budget::ValueSupply::Whole,
            };
            budget::run_estimate(&self.arch, w, supply).check(&self.subject())?;
        }
        let trace = self.build_trace(phase)?;
        if matches!(self.input, Input::Trace(_)) {
            budget::trace_estimate(&self.arch, &trace).check(&self.subject())?;
        }
        let workload = match &self.workload {
            Some(w) => w.clone(),
            None => dense_workload_for(&trace.header),
        };
        evaluate(
            &self.name,
            &self.arch,
            &workload,
            trace,
            &self.input.describe(),
            self.dram,
            self.timeline,
            phase,
        )
    }

    /// The attention trace this experiment replays: read, or made by the reference.
    pub fn build_trace(&self, phase: &mut dyn FnMut(&str)) -> anyhow::Result<AttentionTrace> {
        match &self.input {
            Input::Trace(path) => {
                phase("reading the trace");
                Ok(trace::read_trace(path)?)
            }
            Input::Synthetic | Input::Values(_) => {
                let workload = self.workload.as_ref().ok_or_else(|| {
                    anyhow::anyhow!("a workload is needed to run the reference on values")
                })?;
                if let Input::Values(path) = &self.input
                    && workload.stage.batch > 1
                {
                    anyhow::bail!(config::ConfigError::new(
                        std::path::Path::new(&workload.name),
                        Some("stage.batch".into()),
                        format!(
                            "= {} needs a sequence of values each, and the value file {} holds one; \
                             run without --values (synthetic values per sequence) or with batch = 1",
                            workload.stage.batch,
                            path.display()
                        ),
                    ));
                }
                let batch = workload.stage.batch;
                trace::batch::run_batch(workload, |s, w| {
                    if batch > 1 {
                        phase(&format!("sequence {} of {batch}", s + 1));
                    }
                    self.sequence_trace(w, phase)
                })
            }
        }
    }

    /// The reference's trace of one sequence of the workload.
    fn sequence_trace(
        &self,
        workload: &WorkloadConfig,
        phase: &mut dyn FnMut(&str),
    ) -> anyhow::Result<AttentionTrace> {
        let knobs = SynthKnobs::for_workload(workload);
        let design = crate::config::tiles::reference_design(&self.arch, workload.model.head_dim);
        if matches!(self.input, Input::Synthetic) && budget::streams_synthetic_values(workload) {
            // Too large to hold at once: each layer is made when the reference needs it.
            budget::reference_estimate_for(workload, budget::ValueSupply::Synthetic)
                .check(&self.subject())?;
            phase("running the reference model on synthetic values, layer by layer");
            let layers = trace::SynthLayers::new(workload, &knobs, workload.seed);
            return Ok(crate::reference::run_workload_streamed(
                &layers,
                workload,
                design,
                &|_, _| {},
            )?);
        }
        budget::reference_estimate(workload).check(&self.subject())?;
        let values = match &self.input {
            Input::Values(path) => {
                phase("reading values");
                trace::read_values(path)?
            }
            _ => {
                phase("generating synthetic values");
                trace::generate(workload, &knobs, workload.seed)
            }
        };
        phase("running the reference model");
        Ok(crate::reference::run_workload_with_progress(
            &values,
            workload,
            design,
            &|_, _| {},
        )?)
    }
}

impl Experiment {
    /// "arch A, workload W" for errors about the pair.
    fn subject(&self) -> String {
        match &self.workload {
            Some(w) => format!("arch {}, workload {}", self.arch.name, w.name),
            None => format!("arch {}, {}", self.arch.name, self.input.describe()),
        }
    }
}

/// Simulates a trace on a design point and accounts energy, area and baselines.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    name: &str,
    arch: &ArchConfig,
    workload: &WorkloadConfig,
    trace: AttentionTrace,
    input: &str,
    dram: DramKind,
    timeline: bool,
    phase: &mut dyn FnMut(&str),
) -> anyhow::Result<ExperimentResult> {
    config::check_pair(arch, workload)?;
    phase("simulating cycles");
    let stats = simulate(arch, &trace, dram, timeline)?;
    phase("energy and baselines");
    let energy = EnergyReport::compute(arch, &stats);
    let (mut baselines, _unsupported) =
        baseline::roofline::model_presets(workload, Precision::Fp32)?;
    match_trace_stages(&mut baselines, &trace);
    let provenance = Provenance {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        arch: arch.name.clone(),
        arch_hash: config::config_hash(arch),
        workload: workload.name.clone(),
        workload_hash: config::config_hash(workload),
        seed: trace.header.seed,
        input: input.to_string(),
        dram_model: dram.to_string(),
    };
    Ok(ExperimentResult {
        name: name.to_string(),
        provenance,
        area: AreaBreakdown::of(arch),
        arch: arch.clone(),
        workload: workload.clone(),
        trace,
        stats,
        energy,
        baselines,
    })
}

/// Keeps only the baseline stages the trace ran: an imported generation trace has no prompt
/// pass (iteration 0) and a prompt-only trace no generation iterations, so charging the
/// baselines for the missing stage would skew every speedup.
fn match_trace_stages(baselines: &mut [BaselineResult], trace: &AttentionTrace) {
    use baseline::work::StageKindLabel;
    let has_prompt = trace.head_calls.iter().any(|c| c.iteration == 0);
    let has_generation = trace.head_calls.iter().any(|c| c.iteration > 0);
    for b in baselines {
        let before = b.stages.len();
        b.stages.retain(|s| match s.stage {
            StageKindLabel::Summarization => has_prompt,
            StageKindLabel::Generation => has_generation,
        });
        if b.stages.len() < before {
            b.notes.push(if has_prompt {
                "generation stage left out: the trace is the prompt pass only".into()
            } else {
                "prompt stage left out: the trace has no prompt pass (generation iterations only)"
                    .into()
            });
        }
    }
}

/// Adds measured baseline files (from `spatten baseline measure-cpu` or
/// scripts/gpu_baseline.py) to a result, after checking they timed the same shape.
pub fn add_measured_baselines(
    result: &mut ExperimentResult,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    let want = baseline::result::WorkloadShape::of(&result.workload);
    for f in files {
        let b = BaselineResult::read(f)?;
        let got = &b.workload;
        let same = (
            got.layers,
            got.heads,
            got.head_dim,
            got.stage,
            got.prompt_tokens,
            got.generated_tokens,
            got.batch,
        ) == (
            want.layers,
            want.heads,
            want.head_dim,
            want.stage,
            want.prompt_tokens,
            want.generated_tokens,
            want.batch,
        );
        if !same {
            anyhow::bail!(
                "{}: baseline measured {} ({} layers x {} heads, D = {}, {} + {} tokens, batch {}), but this run is {} ({} layers x {} heads, D = {}, {} + {} tokens, batch {})",
                f.display(),
                got.name,
                got.layers,
                got.heads,
                got.head_dim,
                got.prompt_tokens,
                got.generated_tokens,
                got.batch,
                want.name,
                want.layers,
                want.heads,
                want.head_dim,
                want.prompt_tokens,
                want.generated_tokens,
                want.batch
            );
        }
        result.baselines.push(b);
    }
    Ok(())
}

/// Builds the chosen DRAM model and simulates.
pub fn simulate(
    arch: &ArchConfig,
    trace: &AttentionTrace,
    kind: DramKind,
    timeline: bool,
) -> anyhow::Result<SimStats> {
    let mut dram = make_dram(kind, &arch.hbm, arch.fetcher.transaction_bytes)?;
    let options = SimOptions {
        timeline,
        ..SimOptions::default()
    };
    Ok(hw::simulate(arch, trace, dram.as_mut(), &options)?)
}

/// A dense (unpruned, 12-bit static) workload with a trace's shape, for baselines of traces
/// that come without a workload file.
pub fn dense_workload_for(h: &TraceHeader) -> WorkloadConfig {
    let none = PruningSchedule {
        average_ratio: 0.0,
        unpruned_leading_fraction: 0.0,
        ramp: 0.0,
    };
    WorkloadConfig {
        name: h.workload.clone(),
        base: None,
        seed: h.seed,
        model: ModelShape {
            layers: h.layers,
            heads: h.heads,
            head_dim: h.head_dim,
            hidden: h.heads * h.head_dim,
            causal: h.stage == config::workload::StageKind::Generation,
            kv_heads: h.kv_heads,
            positional: None,
        },
        stage: StageConfig {
            kind: h.stage,
            prompt_tokens: h.prompt_tokens,
            generated_tokens: h.generated_tokens,
            prefill: None,
            batch: h.batch(),
        },
        token_pruning: none.clone(),
        head_pruning: none,
        local_v: LocalVConfig { keep_ratio: 1.0 },
        policy: Default::default(),
        quant: QuantConfig {
            mode: QuantMode::Static,
            msb_bits: 12,
            lsb_bits: 0,
            requant_threshold: 0.0,
        },
    }
}
