//! Modelled latency and energy of a device profile on a workload.
//!
//! CPU/GPU: every kernel of [`super::work`] takes
//! `max(ops / (peak x compute_efficiency), bytes / (bandwidth x bandwidth_efficiency)) +
//! kernel_overhead`, and a stage is the sum over its kernels (kernels run one after another
//! at batch 1). Energy = dynamic power (loaded - idle, as the paper) x latency.
//!
//! Accelerators: latency = ops / published throughput, energy = ops / published energy
//! efficiency (both count the dense attention's operations, like the paper).

use super::BaselineError;
use super::profile::{DeviceProfile, RooflineParams};
use super::result::{BaselineResult, FORMAT, Provenance, StageResult, VERSION, WorkloadShape};
use super::work::{KernelWork, Precision, attention_work};
use crate::config::WorkloadConfig;

/// Seconds one kernel takes on the roofline with the given peak (GOP/s).
pub fn kernel_seconds(r: &RooflineParams, peak_gops: f64, k: &KernelWork) -> f64 {
    let compute_s = k.ops as f64 / (peak_gops * 1e9 * r.compute_efficiency.value);
    let memory_s =
        k.bytes as f64 / (r.memory_bandwidth_gbps.value * 1e9 * r.bandwidth_efficiency.value);
    compute_s.max(memory_s) + r.kernel_overhead_us.value * 1e-6
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

/// Models a profile on a workload: one [`StageResult`] per stage, tagged `modelled`.
pub fn model_workload(
    profile: &DeviceProfile,
    workload: &WorkloadConfig,
    precision: Precision,
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
            energy_method = format!("modelled dynamic power x latency ({})", power.basis);
            notes.push(format!(
                "roofline: peak {peak} GFLOP/s x {} compute efficiency, {} GB/s x {} bandwidth efficiency, {} us per kernel",
                r.compute_efficiency.value,
                r.memory_bandwidth_gbps.value,
                r.bandwidth_efficiency.value,
                r.kernel_overhead_us.value
            ));
            for sw in &stages_work {
                let latency_s: f64 = sw
                    .steps
                    .iter()
                    .map(|s| {
                        s.repeats as f64
                            * s.kernels
                                .iter()
                                .map(|k| kernel_seconds(r, peak, k))
                                .sum::<f64>()
                    })
                    .sum();
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
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    for p in super::profile::all_presets()? {
        match model_workload(&p, workload, precision) {
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
        let r = model_workload(&p, &w, Precision::Fp32).unwrap();
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
        assert!((r.stages[0].energy_j - 250.0 * expected).abs() < 1e-9);
    }

    #[test]
    fn generation_is_bandwidth_bound_on_gpus() {
        let p = load_profile("a100").unwrap();
        let r = p.roofline.as_ref().unwrap();
        let w = load_workload("gpt2-small").unwrap();
        let res = model_workload(&p, &w, Precision::Fp32).unwrap();
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
