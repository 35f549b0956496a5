//! Modelled latency and energy of a device profile on a workload.
//!
//! CPU/GPU, by [`BaselineModel`]:
//! - eager (default): every operator of [`super::framework::layer_ops`] takes its class's
//!   fixed cost (`[framework]`) plus its roofline time
//!   `max(ops / (peak x compute_efficiency), bytes / (bandwidth x bandwidth_efficiency))`;
//! - ideal kernels: the three kernels of [`super::work`] on the same roofline, each plus
//!   `kernel_overhead_us`;
//! - fused: one kernel per layer and step on the roofline (Q, K, V read once) plus
//!   `fused_kernel_us`.
//!
//! A stage is the sum over its operators (they run one after another at batch 1). Energy =
//! dynamic power (loaded - idle, as the paper) x latency.
//!
//! Accelerators: latency = ops / published throughput, energy = ops / published energy
//! efficiency (both count the dense attention's operations, like the paper), whatever the model.

use super::BaselineError;
use super::framework::{self, BaselineModel};
use super::profile::{DeviceProfile, FrameworkParams, RooflineParams};
use super::result::{BaselineResult, FORMAT, Provenance, StageResult, VERSION, WorkloadShape};
use super::work::{KernelWork, Precision, StageWork, attention_work};
use crate::config::WorkloadConfig;

/// Seconds of an operator's roofline time alone (no fixed cost).
pub fn roofline_seconds(r: &RooflineParams, peak_gops: f64, ops: u64, bytes: u64) -> f64 {
    let compute_s = ops as f64 / (peak_gops * 1e9 * r.compute_efficiency.value);
    let memory_s =
        bytes as f64 / (r.memory_bandwidth_gbps.value * 1e9 * r.bandwidth_efficiency.value);
    compute_s.max(memory_s)
}

/// Seconds one kernel takes on the roofline with the given peak (GOP/s).
pub fn kernel_seconds(r: &RooflineParams, peak_gops: f64, k: &KernelWork) -> f64 {
    roofline_seconds(r, peak_gops, k.ops, k.bytes) + r.kernel_overhead_us.value * 1e-6
}

/// The peak (GOP/s) a profile offers at a precision.
pub fn peak_gops(
    p: &DeviceProfile,
    r: &RooflineParams,
    precision: Precision,
) -> Result<f64, BaselineError> {
    match precision {
        Precision::Fp32 => Ok(r.peak_fp32_gflops.value),
        Precision::Fp16 => r.peak_fp16_gflops.as_ref().map(|s| s.value).ok_or_else(|| {
            BaselineError::Unsupported(format!(
                "device profile {} publishes no fp16 peak (roofline.peak_fp16_gflops); use fp32",
                p.name
            ))
        }),
    }
}

/// The shape facts the eager and fused models need beyond a stage's work counts.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub heads: u64,
    pub head_dim: u64,
    pub causal: bool,
    pub elem_bytes: u64,
}

impl Shape {
    pub fn of(w: &WorkloadConfig, precision: Precision) -> Self {
        Self {
            // A batch is batch x heads to each kernel (attention_work).
            heads: w.model.heads as u64 * w.stage.batch as u64,
            head_dim: w.model.head_dim as u64,
            causal: w.model.causal,
            elem_bytes: precision.bytes(),
        }
    }
}

/// The time of an eager stage split by operator class: (fixed cost, roofline time) per class,
/// in [`framework::OpClass::ALL`] order, and the number of operators per class.
pub struct EagerSplit {
    pub fixed_s: [f64; 3],
    pub roofline_s: [f64; 3],
    pub operators: [u64; 3],
}

/// Splits an eager stage by operator class (the fit solves for the fixed costs from it).
pub fn eager_split(
    r: &RooflineParams,
    fw: Option<&FrameworkParams>,
    peak: f64,
    shape: Shape,
    sw: &StageWork,
) -> EagerSplit {
    let mut split = EagerSplit {
        fixed_s: [0.0; 3],
        roofline_s: [0.0; 3],
        operators: [0; 3],
    };
    for (repeats, ops) in framework::stage_ops(
        sw,
        shape.causal,
        shape.heads,
        shape.head_dim,
        shape.elem_bytes,
    ) {
        for op in &ops {
            let i = op.class as usize;
            split.operators[i] += repeats;
            split.roofline_s[i] += repeats as f64 * roofline_seconds(r, peak, op.ops, op.bytes);
            if let Some(fw) = fw {
                split.fixed_s[i] += repeats as f64 * fw.op_us(op.class) * 1e-6;
            }
        }
    }
    split
}

/// Seconds a CPU/GPU profile takes for one stage under a model.
pub fn stage_seconds(
    model: BaselineModel,
    r: &RooflineParams,
    fw: Option<&FrameworkParams>,
    peak: f64,
    shape: Shape,
    sw: &StageWork,
) -> f64 {
    match model {
        BaselineModel::IdealKernels => sw
            .steps
            .iter()
            .map(|s| {
                s.repeats as f64
                    * s.kernels
                        .iter()
                        .map(|k| kernel_seconds(r, peak, k))
                        .sum::<f64>()
            })
            .sum(),
        BaselineModel::Eager => {
            let s = eager_split(r, fw, peak, shape, sw);
            s.fixed_s.iter().sum::<f64>() + s.roofline_s.iter().sum::<f64>()
        }
        BaselineModel::Fused => {
            let launch_s = fw.map_or(0.0, |f| f.fused_kernel_us.value * 1e-6);
            sw.steps
                .iter()
                .map(|s| {
                    let ops: u64 = s.kernels.iter().map(|k| k.ops).sum();
                    let bytes = framework::fused_bytes(
                        shape.heads,
                        shape.head_dim,
                        s.queries,
                        s.keys,
                        shape.elem_bytes,
                    );
                    s.repeats as f64 * (roofline_seconds(r, peak, ops, bytes) + launch_s)
                })
                .sum()
        }
    }
}

/// Models a profile on a workload with the default (eager) model.
pub fn model_workload(
    profile: &DeviceProfile,
    workload: &WorkloadConfig,
    precision: Precision,
) -> Result<BaselineResult, BaselineError> {
    model_workload_as(profile, workload, precision, BaselineModel::Eager)
}

/// Models a profile on a workload: one [`StageResult`] per stage, tagged `modelled`.
pub fn model_workload_as(
    profile: &DeviceProfile,
    workload: &WorkloadConfig,
    precision: Precision,
    model: BaselineModel,
) -> Result<BaselineResult, BaselineError> {
    let stages_work = attention_work(workload, precision);
    let mut stages = Vec::with_capacity(stages_work.len());
    let energy_method;
    let mut notes = Vec::new();
    match (&profile.roofline, &profile.published) {
        (Some(r), _) => {
            let peak = peak_gops(profile, r, precision)?;
            let power = profile
                .power
                .as_ref()
                .ok_or_else(|| {
                    BaselineError::Unsupported(format!(
                        "device profile {} has no [power]",
                        profile.name
                    ))
                })?
                .dynamic();
            let fw = profile.framework.as_ref();
            if model != BaselineModel::IdealKernels && fw.is_none() {
                return Err(BaselineError::Unsupported(format!(
                    "device profile {} has no [framework] table, which the {} model needs; use --model ideal-kernels",
                    profile.name,
                    model.label()
                )));
            }
            energy_method = format!("modelled dynamic power x latency ({})", power.basis);
            notes.push(format!("model: {} ({})", model.label(), model.describe()));
            notes.push(format!(
                "roofline: peak {peak} GFLOP/s x {} compute efficiency, {} GB/s x {} bandwidth efficiency",
                r.compute_efficiency.value,
                r.memory_bandwidth_gbps.value,
                r.bandwidth_efficiency.value,
            ));
            notes.push(match (model, fw) {
                (BaselineModel::Eager, Some(f)) => format!(
                    "per operator: {} us (layout), {} us (softmax class), {} us (matmul)",
                    f.layout_op_us.value, f.softmax_op_us.value, f.matmul_op_us.value
                ),
                (BaselineModel::Fused, Some(f)) => {
                    format!("{} us per fused kernel", f.fused_kernel_us.value)
                }
                _ => format!("{} us per kernel", r.kernel_overhead_us.value),
            });
            let shape = Shape::of(workload, precision);
            for sw in &stages_work {
                let latency_s = stage_seconds(model, r, fw, peak, shape, sw);
                stages.push(StageResult {
                    stage: sw.stage,
                    ops: sw.ops(),
                    bytes: sw.bytes(),
                    latency_s,
                    power_w: power.watts,
                    energy_j: power.watts * latency_s,
                    timing: None,
                });
            }
        }
        (None, Some(p)) => {
            let gops = p.throughput_gops.value;
            let gopj = p.energy_efficiency_gops_per_j.value;
            energy_method = format!(
                "published figures: {gops} GOP/s at {gopj} GOP/J (power {:.3} W)",
                gops / gopj
            );
            notes.push(
                "accelerator figures count the dense attention's operations, as the paper does"
                    .into(),
            );
            for sw in &stages_work {
                let ops = sw.ops();
                let latency_s = ops as f64 / (gops * 1e9);
                stages.push(StageResult {
                    stage: sw.stage,
                    ops,
                    bytes: sw.bytes(),
                    latency_s,
                    power_w: gops / gopj,
                    energy_j: ops as f64 / (gopj * 1e9),
                    timing: None,
                });
            }
        }
        (None, None) => {
            return Err(BaselineError::Unsupported(format!(
                "device profile {} has neither [roofline] nor [published]",
                profile.name
            )));
        }
    }
    Ok(BaselineResult {
        format: FORMAT.into(),
        version: VERSION,
        device: profile.name.clone(),
        device_description: profile.description.clone(),
        device_kind: profile.kind,
        provenance: Provenance::Modelled,
        precision,
        workload: WorkloadShape::of(workload),
        energy_method,
        stages,
        notes,
    })
}

/// Models every shipped profile on a workload, in preset order. Profiles that cannot run the
/// precision (fp16 without a published fp16 peak) are left out; their names are returned.
pub fn model_presets(
    workload: &WorkloadConfig,
    precision: Precision,
) -> Result<(Vec<BaselineResult>, Vec<String>), BaselineError> {
    model_presets_as(workload, precision, BaselineModel::Eager)
}

/// [`model_presets`] under a given model.
pub fn model_presets_as(
    workload: &WorkloadConfig,
    precision: Precision,
    model: BaselineModel,
) -> Result<(Vec<BaselineResult>, Vec<String>), BaselineError> {
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    for p in super::profile::all_presets()? {
        match model_workload_as(&p, workload, precision, model) {
            Ok(r) => results.push(r),
            Err(BaselineError::Unsupported(_)) => skipped.push(p.name.clone()),
            Err(e) => return Err(e),
        }
    }
    Ok((results, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::load_profile;
    use crate::config::load_workload;

    #[test]
    fn bert_base_on_titan_xp_matches_hand_computed_roofline() {
        let p = load_profile("titan-xp").unwrap();
        let w = load_workload("bert-base").unwrap();
        let r = model_workload_as(&p, &w, Precision::Fp32, BaselineModel::IdealKernels).unwrap();
        assert_eq!(r.provenance, Provenance::Modelled);
        // Per layer, H = 12, L = 128, D = 64, fp32.
        let (h, l, d) = (12.0f64, 128.0f64, 64.0f64);
        let peak = 12150e9 * 0.5;
        let bw = 547.7e9 * 0.75;
        let qk = (2.0 * h * l * l * d / peak).max(4.0 * h * (2.0 * l * d + l * l) / bw);
        let sm = (4.0 * h * l * l / peak).max(4.0 * h * 2.0 * l * l / bw);
        let pv = qk; // same ops and bytes as QxK for Lq = Lk
        let expected = 12.0 * (qk + sm + pv + 3.0 * 6e-6);
        let got = r.stages[0].latency_s;
        assert!(
            (got - expected).abs() < 1e-12 * expected.max(1.0),
            "{got} vs {expected}"
        );
        let watts = p.power.as_ref().unwrap().dynamic().watts;
        assert!((r.stages[0].energy_j - watts * expected).abs() < 1e-9);
    }

    #[test]
    fn eager_is_slower_than_ideal_kernels_which_are_slower_than_fused() {
        let w = load_workload("gpt2-medium").unwrap();
        for device in ["titan-xp", "xeon-e5-2640-v4", "a100"] {
            let p = load_profile(device).unwrap();
            let t = BaselineModel::ALL.map(|m| {
                model_workload_as(&p, &w, Precision::Fp32, m)
                    .unwrap()
                    .stages[1]
                    .latency_s
            });
            assert!(t[0] > t[1] && t[1] > t[2], "{device}: {t:?}");
        }
    }

    #[test]
    fn eager_titan_xp_reproduces_table_iv() {
        // The shipped (rounded) constants give GPT-2-medium's 32 generation steps in 366.7 ms.
        let p = load_profile("titan-xp").unwrap();
        let w = load_workload("gpt2-medium").unwrap();
        let r = model_workload(&p, &w, Precision::Fp32).unwrap();
        let got = r.stages[1].latency_s;
        assert!((got / 0.3667 - 1.0).abs() < 0.005, "{got}");
    }

    #[test]
    fn fused_is_one_kernel_on_the_roofline_per_layer_and_step() {
        let p = load_profile("a100").unwrap();
        let r = p.roofline.as_ref().unwrap();
        let w = load_workload("bert-base").unwrap();
        let res = model_workload_as(&p, &w, Precision::Fp32, BaselineModel::Fused).unwrap();
        let (h, l, d) = (12.0f64, 128.0f64, 64.0f64);
        let ops = h * l * l * (4.0 * d + 4.0);
        let bytes = 4.0 * h * d * 4.0 * l;
        let per_layer = (ops / (19500e9 * 0.5)).max(bytes / (1555e9 * 0.8)) + 3e-6;
        assert!(r.ridge_flop_per_byte() > 0.0);
        let got = res.stages[0].latency_s;
        assert!((got - 12.0 * per_layer).abs() < 1e-12, "{got}");
    }

    #[test]
    fn generation_is_bandwidth_bound_on_gpus() {
        let p = load_profile("a100").unwrap();
        let r = p.roofline.as_ref().unwrap();
        let w = load_workload("gpt2-small").unwrap();
        let res = model_workload_as(&p, &w, Precision::Fp32, BaselineModel::IdealKernels).unwrap();
        let generation = &res.stages[1];
        // Each generation kernel has intensity below 1 FLOP/B, far under the ridge, so the
        // latency is bytes / achieved bandwidth + overheads.
        let expected = generation.bytes as f64 / (1555e9 * 0.8) + (3 * 12 * 32) as f64 * 5e-6;
        assert!(r.ridge_flop_per_byte() > 1.0);
        assert!(
            (generation.latency_s - expected).abs() < 1e-9 * expected,
            "{} vs {expected}",
            generation.latency_s
        );
    }

    #[test]
    fn accelerators_use_published_throughput_and_efficiency() {
        let p = load_profile("a3").unwrap();
        let w = load_workload("bert-base").unwrap();
        let r = model_workload(&p, &w, Precision::Fp32).unwrap();
        let ops = r.stages[0].ops as f64;
        assert!((r.stages[0].latency_s - ops / 221e9).abs() < 1e-15);
        assert!((r.stages[0].energy_j - ops / 269e9).abs() < 1e-15);
        let m = model_workload(&load_profile("mnnfast").unwrap(), &w, Precision::Fp32).unwrap();
        assert!((m.stages[0].power_w - 1.0).abs() < 1e-12);
    }

    #[test]
    fn all_presets_model_and_fp16_skips_the_rest() {
        let w = load_workload("bert-base").unwrap();
        let (all, skipped) = model_presets(&w, Precision::Fp32).unwrap();
        assert_eq!(all.len(), crate::baseline::presets::DEVICES.len());
        assert!(skipped.is_empty());
        let (half, skipped) = model_presets(&w, Precision::Fp16).unwrap();
        let names: Vec<&str> = half.iter().map(|r| r.device.as_str()).collect();
        assert_eq!(names, ["jetson-nano", "a100", "h100", "a3", "mnnfast"]);
        assert_eq!(
            skipped,
            [
                "titan-xp",
                "xeon-e5-2640-v4",
                "raspberry-pi-4",
                "generic-host"
            ]
        );
    }

    #[test]
    fn fp16_needs_a_published_fp16_peak() {
        let w = load_workload("bert-base").unwrap();
        let e =
            model_workload(&load_profile("titan-xp").unwrap(), &w, Precision::Fp16).unwrap_err();
        assert!(e.to_string().contains("no fp16 peak"));
        let h = model_workload(&load_profile("h100").unwrap(), &w, Precision::Fp16).unwrap();
        let f = model_workload(&load_profile("h100").unwrap(), &w, Precision::Fp32).unwrap();
        assert!(h.stages[0].latency_s < f.stages[0].latency_s);
    }
}
