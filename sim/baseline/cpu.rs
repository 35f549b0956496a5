//! The measured host-CPU baseline: our own f32 dense attention, timed on this machine.
//!
//! The kernels are what a framework runs at batch 1: per head `S = Q K^T` (ndarray's packed
//! SGEMM), a row-wise softmax of `S / sqrt(D)` (causal mask applied for decoder models), and
//! `O = P V`; heads run in parallel on a rayon pool. Every layer has its own Q/K/V, so the
//! generation stage streams a real KV cache from memory instead of re-reading one layer's
//! cache from the caches. Each stage is timed `repeats` times after `warmup` untimed runs;
//! the result reports the median (headline) and the paper's 15 %-trimmed mean.
//!
//! Energy: RAPL package energy when readable (dynamic = average power during the runs minus
//! the idle power measured just before, times the median latency, as the paper's loaded -
//! idle); otherwise the host profile's dynamic power scaled by threads / cores, stated so.

use std::time::{Duration, Instant};

use ndarray::{Array2, Array3, ArrayView2, Axis, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::BaselineError;
use super::profile::{DeviceKind, DeviceProfile};
use super::rapl::Rapl;
use super::result::{
    BaselineResult, FORMAT, Provenance, StageResult, TimingStats, VERSION, WorkloadShape,
};
use super::stats::{median, trimmed_mean};
use super::work::{Precision, StageKindLabel, attention_work};
use crate::config::WorkloadConfig;
use crate::config::workload::StageKind;

/// The paper's trim: drop the top and bottom 15 % of runs.
pub const TRIM_FRACTION: f64 = 0.15;

#[derive(Debug, Clone)]
pub struct CpuMeasureOptions {
    pub repeats: u32,
    pub warmup: u32,
    /// Rayon threads; `None` = all available cores.
    pub threads: Option<usize>,
    /// Idle window for the RAPL idle-power reading.
    pub idle_window: Duration,
    /// Show a progress bar on stderr (hidden when stderr is not a terminal).
    pub progress: bool,
}

impl Default for CpuMeasureOptions {
    fn default() -> Self {
        Self {
            repeats: 10,
            warmup: 2,
            threads: None,
            idle_window: Duration::from_millis(1000),
            progress: false,
        }
    }
}

/// One head's dense attention in f32: softmax(Q K^T / sqrt(D), causal) V.
/// `first_query_pos` is the absolute position of `q`'s first row (query i sees keys
/// `0..=first_query_pos + i` when `causal`).
pub fn attention_head(
    q: ArrayView2<f32>,
    k: ArrayView2<f32>,
    v: ArrayView2<f32>,
    causal: bool,
    first_query_pos: usize,
) -> Array2<f32> {
    let scale = 1.0 / (q.ncols() as f32).sqrt();
    let mut scores = q.dot(&k.t());
    for (i, mut row) in scores.axis_iter_mut(Axis(0)).enumerate() {
        let visible = if causal {
            (first_query_pos + i + 1).min(row.len())
        } else {
            row.len()
        };
        let max = row
            .iter()
            .take(visible)
            .fold(f32::NEG_INFINITY, |m, &x| m.max(x))
            * scale;
        let mut sum = 0.0f32;
        for (j, x) in row.iter_mut().enumerate() {
            if j < visible {
                *x = (*x * scale - max).exp();
                sum += *x;
            } else {
                *x = 0.0;
            }
        }
        let inv = 1.0 / sum;
        row.mapv_inplace(|x| x * inv);
    }
    scores.dot(&v)
}

/// One layer's tensors, [heads, tokens, head_dim].
struct LayerTensors {
    q: Array3<f32>,
    k: Array3<f32>,
    v: Array3<f32>,
}

fn random_layers(w: &WorkloadConfig) -> Vec<LayerTensors> {
    let (h, d) = (w.model.heads as usize, w.model.head_dim as usize);
    let tokens = w.final_tokens() as usize;
    let mut rng = ChaCha8Rng::seed_from_u64(w.seed);
    let tensor = |rng: &mut ChaCha8Rng| {
        Array3::from_shape_simple_fn((h, tokens, d), || rng.gen_range(-1.0f32..1.0))
    };
    (0..w.model.layers)
        .map(|_| LayerTensors {
            q: tensor(&mut rng),
            k: tensor(&mut rng),
            v: tensor(&mut rng),
        })
        .collect()
}

/// One full pass of a stage over all layers; returns a checksum so the work is observable.
fn run_stage(w: &WorkloadConfig, layers: &[LayerTensors], stage: StageKindLabel) -> f64 {
    let prompt = w.stage.prompt_tokens as usize;
    let causal = w.model.causal;
    let heads = w.model.heads as usize;
    let mut checksum = 0.0f64;
    match stage {
        StageKindLabel::Summarization => {
            for t in layers {
                let sums: Vec<f64> = (0..heads)
                    .into_par_iter()
                    .map(|h| {
                        let o = attention_head(
                            t.q.slice(s![h, ..prompt, ..]),
                            t.k.slice(s![h, ..prompt, ..]),
                            t.v.slice(s![h, ..prompt, ..]),
                            causal,
                            0,
                        );
                        o[[0, 0]] as f64
                    })
                    .collect();
                checksum += sums.iter().sum::<f64>();
            }
        }
        StageKindLabel::Generation => {
            for i in 0..w.stage.generated_tokens as usize {
                let pos = prompt + i;
                for t in layers {
                    let sums: Vec<f64> = (0..heads)
                        .into_par_iter()
                        .map(|h| {
                            let o = attention_head(
                                t.q.slice(s![h, pos..pos + 1, ..]),
                                t.k.slice(s![h, ..pos + 1, ..]),
                                t.v.slice(s![h, ..pos + 1, ..]),
                                causal,
                                pos,
                            );
                            o[[0, 0]] as f64
                        })
                        .collect();
                    checksum += sums.iter().sum::<f64>();
                }
            }
        }
    }
    checksum
}

/// How the energy of the measured runs is obtained.
pub enum EnergySource {
    Rapl(Rapl),
    /// A host profile's dynamic power, scaled by threads / profile cores.
    Profile(Box<DeviceProfile>),
}

/// A host profile's dynamic power scaled by threads / the profile's cores, and how it was formed.
pub fn profile_power(p: &DeviceProfile, threads: usize) -> Result<(f64, String), BaselineError> {
    let power = p
        .power
        .as_ref()
        .ok_or_else(|| BaselineError::Unsupported(format!("profile {} has no [power]", p.name)))?
        .dynamic();
    let cores = p
        .roofline
        .as_ref()
        .and_then(|r| r.cores.as_ref())
        .map(|c| c.value)
        .unwrap_or(threads as f64);
    let share = (threads as f64 / cores).min(1.0);
    Ok((
        power.watts * share,
        format!(
            "no RAPL counter readable: profile {} dynamic power ({}) x {threads} threads / {cores} cores",
            p.name, power.basis
        ),
    ))
}

/// Times the dense attention of `w` on this machine and returns a `measured` result.
pub fn measure_cpu(
    w: &WorkloadConfig,
    opts: &CpuMeasureOptions,
    energy: &EnergySource,
) -> Result<BaselineResult, BaselineError> {
    if w.stage.batch > 1 {
        return Err(BaselineError::Unsupported(format!(
            "stage.batch = {}: measurements time one sequence; measure with batch = 1 (the \
             modelled baselines scale to a batch)",
            w.stage.batch
        )));
    }
    if opts.repeats == 0 {
        return Err(BaselineError::Unsupported(
            "--repeats must be at least 1".into(),
        ));
    }
    let threads = opts.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 {
        return Err(BaselineError::Unsupported(
            "--threads must be at least 1".into(),
        ));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| {
            BaselineError::Unsupported(format!("cannot build a {threads}-thread pool: {e}"))
        })?;
    let (profile_power_w, energy_method) = match energy {
        EnergySource::Rapl(r) => (
            0.0,
            format!(
                "RAPL package energy ({}): average power during the runs minus idle power measured before, x median latency",
                r.domain.display()
            ),
        ),
        EnergySource::Profile(p) => {
            let (watts, basis) = profile_power(p, threads)?;
            (
                watts,
                format!("{basis}, x median latency (an estimate, not a measurement)"),
            )
        }
    };
    let load_note = load_average_note();
    let layers = random_layers(w);
    let work = attention_work(w, Precision::Fp32);
    let mut stages = Vec::new();
    for sw in &work {
        let idle_w = match energy {
            EnergySource::Rapl(r) => Some(idle_power_w(r, opts.idle_window)),
            EnergySource::Profile(_) => None,
        };
        let bar = if opts.progress {
            let b = indicatif::ProgressBar::new((opts.warmup + opts.repeats) as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>14} [{bar:30}] {pos}/{len} runs, {elapsed}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            b.set_message(sw.stage.label());
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut checksum = 0.0;
        pool.install(|| {
            for _ in 0..opts.warmup {
                checksum += run_stage(w, &layers, sw.stage);
                bar.inc(1);
            }
        });
        let before_uj = match energy {
            EnergySource::Rapl(r) => r.read_uj(),
            EnergySource::Profile(_) => None,
        };
        let total_start = Instant::now();
        let samples: Vec<f64> = pool.install(|| {
            (0..opts.repeats)
                .map(|_| {
                    let t0 = Instant::now();
                    checksum += run_stage(w, &layers, sw.stage);
                    let dt = t0.elapsed().as_secs_f64();
                    bar.inc(1);
                    dt
                })
                .collect()
        });
        bar.finish_and_clear();
        let total_s = total_start.elapsed().as_secs_f64();
        if !checksum.is_finite() {
            return Err(BaselineError::Unsupported(
                "attention produced a non-finite value".into(),
            ));
        }
        let med = median(&samples).expect("repeats >= 1 and timings are finite");
        let trimmed = trimmed_mean(&samples, TRIM_FRACTION).expect("valid trim fraction");
        let power_w = match (energy, before_uj, idle_w) {
            (EnergySource::Rapl(r), Some(b), Some(Some(idle))) => match r.read_uj() {
                Some(a) => (r.delta_uj(b, a) as f64 * 1e-6 / total_s - idle).max(0.0),
                None => {
                    return Err(BaselineError::Unsupported(
                        "RAPL counter became unreadable during the runs".into(),
                    ));
                }
            },
            (EnergySource::Rapl(_), _, _) => {
                return Err(BaselineError::Unsupported(
                    "RAPL counter became unreadable during the runs".into(),
                ));
            }
            (EnergySource::Profile(_), _, _) => profile_power_w,
        };
        stages.push(StageResult {
            stage: sw.stage,
            ops: sw.ops(),
            bytes: sw.bytes(),
            latency_s: med,
            power_w,
            energy_j: power_w * med,
            timing: Some(TimingStats {
                runs: opts.repeats,
                warmup: opts.warmup,
                median_s: med,
                trimmed_mean_s: trimmed,
                trim_fraction: TRIM_FRACTION,
                min_s: samples.iter().copied().fold(f64::INFINITY, f64::min),
                max_s: samples.iter().copied().fold(0.0, f64::max),
                threads: Some(threads as u32),
            }),
        });
    }
    let stage_note = match w.stage.kind {
        StageKind::Generation => {
            "generation workload: the prompt's summarization and the generation iterations are timed separately"
        }
        StageKind::Summarization => "summarization workload",
    };
    Ok(BaselineResult {
        format: FORMAT.into(),
        version: VERSION,
        device: "host-cpu".into(),
        device_description: host_description(threads),
        device_kind: DeviceKind::Cpu,
        provenance: Provenance::Measured,
        precision: Precision::Fp32,
        workload: WorkloadShape::of(w),
        energy_method,
        stages,
        notes: vec![
            "our own f32 dense attention (ndarray SGEMM, rayon across heads), random inputs seeded by the workload seed".into(),
            stage_note.into(),
            load_note,
        ],
    })
}

/// The 1-minute load average before timing: other processes on the machine slow the runs, and
/// a reader of the result should know how busy the machine was.
fn load_average_note() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    match std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
    {
        Some(l) => format!("1-minute load average before timing: {l} on {cores} hardware threads"),
        None => format!("load average not available; {cores} hardware threads"),
    }
}

/// Idle package power over `window` (None if the counter cannot be read).
fn idle_power_w(r: &Rapl, window: Duration) -> Option<f64> {
    let b = r.read_uj()?;
    let t0 = Instant::now();
    std::thread::sleep(window);
    let a = r.read_uj()?;
    Some(r.delta_uj(b, a) as f64 * 1e-6 / t0.elapsed().as_secs_f64())
}

/// "<cpu model> (<n> threads used of <m>)", from /proc/cpuinfo when present.
pub fn host_description(threads: usize) -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let all = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{model} ({threads} threads used of {all} available)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive f64 attention, an independent implementation for the cross-check.
    fn reference(
        q: &Array2<f32>,
        k: &Array2<f32>,
        v: &Array2<f32>,
        causal: bool,
        pos0: usize,
    ) -> Array2<f64> {
        let (lq, d) = q.dim();
        let lk = k.nrows();
        let mut out = Array2::<f64>::zeros((lq, v.ncols()));
        for i in 0..lq {
            let visible = if causal { (pos0 + i + 1).min(lk) } else { lk };
            let scores: Vec<f64> = (0..visible)
                .map(|j| {
                    (0..d)
                        .map(|c| q[[i, c]] as f64 * k[[j, c]] as f64)
                        .sum::<f64>()
                        / (d as f64).sqrt()
                })
                .collect();
            let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for (j, p) in e.iter().enumerate() {
                for c in 0..v.ncols() {
                    out[[i, c]] += p / z * v[[j, c]] as f64;
                }
            }
        }
        out
    }

    #[test]
    fn attention_head_matches_f64_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut m = |r, c| Array2::from_shape_simple_fn((r, c), || rng.gen_range(-2.0f32..2.0));
        let (q, k, v) = (m(9, 16), m(9, 16), m(9, 16));
        for causal in [false, true] {
            let got = attention_head(q.view(), k.view(), v.view(), causal, 0);
            let want = reference(&q, &k, &v, causal, 0);
            for (g, w) in got.iter().zip(want.iter()) {
                assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
            }
        }
        // One generation query at position 8 sees all 9 keys.
        let q1 = q.slice(s![8..9, ..]).to_owned();
        let got = attention_head(q1.view(), k.view(), v.view(), true, 8);
        let want = reference(&q1, &k, &v, true, 8);
        for (g, w) in got.iter().zip(want.iter()) {
            assert!((*g as f64 - w).abs() < 1e-5);
        }
    }

    fn tiny_workload() -> WorkloadConfig {
        let mut w = crate::config::load_workload("gpt2-small").unwrap();
        w.model.layers = 2;
        w.model.heads = 2;
        w.model.hidden = 128;
        w.stage.prompt_tokens = 8;
        w.stage.generated_tokens = 2;
        w
    }

    #[test]
    fn rapl_path_uses_loaded_minus_idle() {
        // A counter that does not move: zero package power, so zero dynamic power and energy.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("max_energy_range_uj"), "1000000\n").unwrap();
        std::fs::write(dir.path().join("energy_uj"), "5\n").unwrap();
        let rapl = Rapl::open(dir.path()).unwrap();
        let opts = CpuMeasureOptions {
            repeats: 3,
            warmup: 0,
            threads: Some(1),
            idle_window: Duration::from_millis(5),
            progress: false,
        };
        let r = measure_cpu(&tiny_workload(), &opts, &EnergySource::Rapl(rapl)).unwrap();
        assert!(r.energy_method.starts_with("RAPL"));
        for s in &r.stages {
            assert_eq!((s.power_w, s.energy_j), (0.0, 0.0));
            assert_eq!(s.timing.as_ref().unwrap().runs, 3);
        }
    }

    #[test]
    fn profile_power_is_scaled_by_threads_over_cores() {
        let p = crate::baseline::load_profile("generic-host").unwrap();
        let opts = CpuMeasureOptions {
            repeats: 1,
            warmup: 0,
            threads: Some(2),
            idle_window: Duration::ZERO,
            progress: false,
        };
        let r = measure_cpu(&tiny_workload(), &opts, &EnergySource::Profile(Box::new(p))).unwrap();
        for s in &r.stages {
            assert!((s.power_w - 280.0 * 2.0 / 64.0).abs() < 1e-12);
            assert_eq!(s.energy_j, s.power_w * s.latency_s);
        }
        assert!(r.energy_method.contains("not a measurement"));
        let zero = CpuMeasureOptions { repeats: 0, ..opts };
        let p = crate::baseline::load_profile("generic-host").unwrap();
        assert!(measure_cpu(&tiny_workload(), &zero, &EnergySource::Profile(Box::new(p))).is_err());
    }

    #[test]
    fn causal_first_query_sees_only_itself() {
        let q = Array2::from_shape_fn((3, 4), |(i, j)| (i + j) as f32);
        let k = q.clone();
        let v = Array2::from_shape_fn((3, 4), |(i, _)| i as f32 * 10.0);
        let o = attention_head(q.view(), k.view(), v.view(), true, 0);
        assert_eq!(o[[0, 0]], 0.0);
    }
}
