//! Fits the eager model's per-operator costs and the dynamic powers of the paper's devices to
//! the measurements the paper published (`../shared/spec/baselines.md`, `spatten.md` section 7).
//!
//! The fit is closed form or a one-dimensional root find, so every constant in
//! `arch/baselines/*.toml` that says "fitted" can be recomputed here (`spatten baseline fit`),
//! and a test checks the shipped values against it.
//!
//! - TITAN Xp: the three class costs solve Table IV's total (GPT-2-medium, 32 generation steps,
//!   attention 366.7 ms) split by Fig. 2's breakdown (split/concat/reshape 39.6 %, transpose +
//!   softmax 33.3 %, QxK + ProbxV 16.4 + 10.6 %, renormalised to their 99.9 % sum): three
//!   equations, three unknowns, so those fit exactly; the QxK / ProbxV split and the two
//!   achieved-throughput readings of the paper's roofline figure are reported as residuals.
//! - Xeon E5-2640 v4: one cost for every operator, such that the geometric mean over the 30
//!   benchmarks of (Xeon latency / TITAN Xp latency) equals 347 / 162, the ratio of the paper's
//!   two headline speedups (SpAtten's own latency cancels; the paper's "average" is taken as a
//!   geometric mean).
//! - Raspberry Pi 4: one cost for every operator, such that GPT-2-small attention for 30
//!   generated tokens takes 43 s (Fig. 2 text; the 992-token prompt of the benchmarks assumed).
//! - Dynamic power of TITAN Xp and Xeon: energy saving / speedup = device power / SpAtten
//!   power, so P = (1193 / 162) x 8.30 W and (4059 / 347) x 8.30 W (abstract and Table II).
//!
//! The Jetson Nano and the modern GPUs have no published attention timing in these sources;
//! their `[framework]` constants are stated assumptions, not fits.

use super::BaselineError;
use super::framework::{BaselineModel, OpClass};
use super::profile::{DeviceProfile, FrameworkParams, RooflineParams, Sourced, load_profile};
use super::roofline::{Shape, eager_split, peak_gops, stage_seconds};
use super::work::{Precision, StageWork, attention_work};
use crate::config::WorkloadConfig;

/// Table IV: GPT-2-medium attention for the 32 generation steps on TITAN Xp, seconds.
pub const TABLE_IV_ATTENTION_S: f64 = 0.3667;
/// Fig. 2: the GPU's attention time by operator class, in [`OpClass::ALL`] order.
pub const FIG2_FRACTIONS: [f64; 3] = [0.396, 0.333, 0.164 + 0.106];
/// Fig. 2: QxK's share of the two matmuls (16.4 of 27.0 %).
pub const FIG2_QK_SHARE: f64 = 0.164 / (0.164 + 0.106);
/// Headline speedups (abstract): over TITAN Xp and over Xeon.
pub const SPEEDUP_GPU: f64 = 162.0;
pub const SPEEDUP_CPU: f64 = 347.0;
/// Headline energy savings (abstract): over TITAN Xp and over Xeon.
pub const ENERGY_SAVING_GPU: f64 = 1193.0;
pub const ENERGY_SAVING_CPU: f64 = 4059.0;
/// SpAtten's total power (Table II), watts.
pub const SPATTEN_POWER_W: f64 = 8.30;
/// Fig. 2 text: GPT-2 attention on a Raspberry Pi 4, 30 generated tokens, seconds.
pub const PI_GPT2_ATTENTION_S: f64 = 43.0;
/// The paper's roofline figure: achieved attention throughput on TITAN Xp, GFLOP/s.
pub const TITAN_BERT_GFLOPS: f64 = 20.0;
pub const TITAN_GPT2_GFLOPS: f64 = 10.0;

/// One published measurement beside the model's value for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub device: &'static str,
    pub what: String,
    pub published: f64,
    pub modelled: f64,
    pub unit: &'static str,
    /// True when the constants were solved from this anchor (its residual is then the fit's
    /// rounding), false for a held-out check.
    pub fitted: bool,
}

impl Anchor {
    /// modelled / published - 1.
    pub fn residual(&self) -> f64 {
        self.modelled / self.published - 1.0
    }
}

/// One fitted constant, keyed as in the profile TOML.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    pub device: &'static str,
    pub key: &'static str,
    pub value: f64,
}

/// Everything the fit computes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub constants: Vec<Constant>,
    pub anchors: Vec<Anchor>,
}

fn framework(layout: f64, softmax: f64, matmul: f64, fused: f64) -> FrameworkParams {
    let s = |value| Sourced {
        value,
        source: "fit".into(),
    };
    FrameworkParams {
        layout_op_us: s(layout),
        softmax_op_us: s(softmax),
        matmul_op_us: s(matmul),
        fused_kernel_us: s(fused),
    }
}

struct Device {
    profile: DeviceProfile,
    peak: f64,
}

impl Device {
    fn load(name: &str) -> Result<Self, BaselineError> {
        let profile = load_profile(name)?;
        let r = roofline(&profile)?;
        let peak = peak_gops(&profile, r, Precision::Fp32)?;
        Ok(Self { profile, peak })
    }

    fn r(&self) -> &RooflineParams {
        self.profile.roofline.as_ref().expect("checked in load")
    }

    fn eager_s(&self, fw: &FrameworkParams, w: &WorkloadConfig) -> f64 {
        let sw = benchmark_stage(w);
        stage_seconds(
            BaselineModel::Eager,
            self.r(),
            Some(fw),
            self.peak,
            Shape::of(w, Precision::Fp32),
            &sw,
        )
    }
}

fn roofline(p: &DeviceProfile) -> Result<&RooflineParams, BaselineError> {
    p.roofline.as_ref().ok_or_else(|| {
        BaselineError::Unsupported(format!("device profile {} has no [roofline]", p.name))
    })
}

/// The stage a benchmark is scored on: generation for GPT-2, summarization for BERT (the
/// paper's definitions).
pub fn benchmark_stage(w: &WorkloadConfig) -> StageWork {
    attention_work(w, Precision::Fp32)
        .pop()
        .expect("every workload has a stage")
}

/// Solves f(x) = target for an increasing f on [0, hi] by bisection.
fn solve_increasing(f: impl Fn(f64) -> f64, target: f64, hi: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, hi);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn geomean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x.ln(), n + 1));
    (sum / n as f64).exp()
}

/// Runs the whole fit. `gpt2_medium` / `gpt2_small` are the shipped presets (992 + 32 tokens);
/// `benchmarks` are the paper's 30 benchmark workloads.
pub fn fit(
    gpt2_medium: &WorkloadConfig,
    gpt2_small: &WorkloadConfig,
    benchmarks: &[WorkloadConfig],
) -> Result<Fit, BaselineError> {
    let mut constants = Vec::new();
    let mut anchors = Vec::new();

    // TITAN Xp: class costs from Table IV x Fig. 2, closed form.
    let titan = Device::load("titan-xp")?;
    let sw = benchmark_stage(gpt2_medium);
    let shape = Shape::of(gpt2_medium, Precision::Fp32);
    let split = eager_split(titan.r(), None, titan.peak, shape, &sw);
    let norm: f64 = FIG2_FRACTIONS.iter().sum();
    let mut class_us = [0.0; 3];
    for (i, c) in OpClass::ALL.iter().enumerate() {
        let target_s = TABLE_IV_ATTENTION_S * FIG2_FRACTIONS[i] / norm;
        let fixed_s = target_s - split.roofline_s[i];
        if fixed_s <= 0.0 {
            return Err(BaselineError::Unsupported(format!(
                "titan-xp: the roofline time of the {} operators alone exceeds its Fig. 2 share",
                c.label()
            )));
        }
        class_us[i] = fixed_s / split.operators[i] as f64 * 1e6;
    }
    let titan_fw_fused = titan
        .profile
        .framework
        .as_ref()
        .map_or(0.0, |f| f.fused_kernel_us.value);
    let titan_fw = framework(class_us[0], class_us[1], class_us[2], titan_fw_fused);
    for (key, v) in ["layout_op_us", "softmax_op_us", "matmul_op_us"]
        .into_iter()
        .zip(class_us)
    {
        constants.push(Constant {
            device: "titan-xp",
            key,
            value: v,
        });
    }
    let fitted = eager_split(titan.r(), Some(&titan_fw), titan.peak, shape, &sw);
    let total: f64 = fitted.fixed_s.iter().sum::<f64>() + fitted.roofline_s.iter().sum::<f64>();
    anchors.push(Anchor {
        device: "titan-xp",
        what: "GPT-2-medium attention, 32 generation steps (Table IV)".into(),
        published: TABLE_IV_ATTENTION_S * 1e3,
        modelled: total * 1e3,
        unit: "ms",
        fitted: true,
    });
    for (i, c) in OpClass::ALL.iter().enumerate() {
        anchors.push(Anchor {
            device: "titan-xp",
            what: format!("{} share of attention time (Fig. 2)", c.label()),
            published: FIG2_FRACTIONS[i] * 100.0,
            modelled: (fitted.fixed_s[i] + fitted.roofline_s[i]) / total * 100.0,
            unit: "%",
            fitted: true,
        });
    }
    // The model charges both matmuls one cost, so QxK's share of them is a residual.
    let ops = super::framework::stage_ops(&sw, true, shape.heads, shape.head_dim, 4);
    let matmul_s = |name: &str| -> f64 {
        ops.iter()
            .map(|(rep, ops)| {
                *rep as f64
                    * ops
                        .iter()
                        .filter(|o| o.name == name)
                        .map(|o| {
                            super::roofline::roofline_seconds(titan.r(), titan.peak, o.ops, o.bytes)
                                + class_us[2] * 1e-6
                        })
                        .sum::<f64>()
            })
            .sum()
    };
    let (qk, pv) = (matmul_s("matmul(Q, K^T)"), matmul_s("matmul(P, V)"));
    anchors.push(Anchor {
        device: "titan-xp",
        what: "QxK's share of the two matmuls (Fig. 2: 16.4 of 27.0 %)".into(),
        published: FIG2_QK_SHARE * 100.0,
        modelled: qk / (qk + pv) * 100.0,
        unit: "%",
        fitted: false,
    });
    let achieved = |pick: &dyn Fn(&WorkloadConfig) -> bool| {
        geomean(
            benchmarks
                .iter()
                .filter(|w| pick(w))
                .map(|w| benchmark_stage(w).ops() as f64 / titan.eager_s(&titan_fw, w) / 1e9),
        )
    };
    anchors.push(Anchor {
        device: "titan-xp",
        what: "BERT attention throughput, geomean of the 22 BERT benchmarks (roofline figure, read off a log plot)".into(),
        published: TITAN_BERT_GFLOPS,
        modelled: achieved(&|w| !w.model.causal),
        unit: "GFLOP/s",
        fitted: false,
    });
    anchors.push(Anchor {
        device: "titan-xp",
        what: "GPT-2 attention throughput, geomean of the 8 GPT-2 benchmarks (roofline figure, read off a log plot)".into(),
        published: TITAN_GPT2_GFLOPS,
        modelled: achieved(&|w| w.model.causal),
        unit: "GFLOP/s",
        fitted: false,
    });

    // Xeon: one cost per operator from the ratio of the headline speedups.
    let xeon = Device::load("xeon-e5-2640-v4")?;
    let titan_s: Vec<f64> = benchmarks
        .iter()
        .map(|w| titan.eager_s(&titan_fw, w))
        .collect();
    let ratio = |c: f64| {
        let fw = framework(c, c, c, c);
        geomean(
            benchmarks
                .iter()
                .zip(&titan_s)
                .map(|(w, t)| xeon.eager_s(&fw, w) / t),
        )
    };
    let xeon_us = solve_increasing(ratio, SPEEDUP_CPU / SPEEDUP_GPU, 1e6);
    constants.push(Constant {
        device: "xeon-e5-2640-v4",
        key: "op_us",
        value: xeon_us,
    });
    anchors.push(Anchor {
        device: "xeon-e5-2640-v4",
        what: "latency / TITAN Xp's, geomean of the 30 benchmarks (= 347x / 162x)".into(),
        published: SPEEDUP_CPU / SPEEDUP_GPU,
        modelled: ratio(xeon_us),
        unit: "x",
        fitted: true,
    });

    // Raspberry Pi 4: one cost per operator from the 43 s of Fig. 2.
    let pi = Device::load("raspberry-pi-4")?;
    let mut pi_w = gpt2_small.clone();
    pi_w.stage.generated_tokens = 30;
    let pi_s = |c: f64| pi.eager_s(&framework(c, c, c, c), &pi_w);
    let pi_us = solve_increasing(pi_s, PI_GPT2_ATTENTION_S, 1e9);
    constants.push(Constant {
        device: "raspberry-pi-4",
        key: "op_us",
        value: pi_us,
    });
    anchors.push(Anchor {
        device: "raspberry-pi-4",
        what: "GPT-2-small attention, 30 generated tokens (Fig. 2 text)".into(),
        published: PI_GPT2_ATTENTION_S,
        modelled: pi_s(pi_us),
        unit: "s",
        fitted: true,
    });

    // Dynamic powers from energy saving / speedup x SpAtten's power.
    for (device, saving, speedup) in [
        ("titan-xp", ENERGY_SAVING_GPU, SPEEDUP_GPU),
        ("xeon-e5-2640-v4", ENERGY_SAVING_CPU, SPEEDUP_CPU),
    ] {
        constants.push(Constant {
            device,
            key: "dynamic_w",
            value: saving / speedup * SPATTEN_POWER_W,
        });
    }
    Ok(Fit { constants, anchors })
}

/// The value a shipped profile holds for a fitted constant (`op_us` stands for all three class
/// costs, which a uniform fit sets equal).
pub fn shipped_values(c: &Constant) -> Result<Vec<f64>, BaselineError> {
    let p = load_profile(c.device)?;
    let missing =
        || BaselineError::Unsupported(format!("profile {} lacks a fitted {}", c.device, c.key));
    let f = p.framework.as_ref();
    Ok(match c.key {
        "layout_op_us" => vec![f.ok_or_else(missing)?.layout_op_us.value],
        "softmax_op_us" => vec![f.ok_or_else(missing)?.softmax_op_us.value],
        "matmul_op_us" => vec![f.ok_or_else(missing)?.matmul_op_us.value],
        "op_us" => {
            let f = f.ok_or_else(missing)?;
            vec![
                f.layout_op_us.value,
                f.softmax_op_us.value,
                f.matmul_op_us.value,
            ]
        }
        "dynamic_w" => vec![
            p.power
                .as_ref()
                .and_then(|p| p.dynamic_w.as_ref())
                .ok_or_else(missing)?
                .value,
        ],
        _ => return Err(missing()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_fit() -> Fit {
        crate::reproduce::benchmarks::baseline_fit().unwrap()
    }

    #[test]
    fn fitted_anchors_are_reproduced() {
        let f = run_fit();
        assert_eq!(f.anchors.iter().filter(|a| a.fitted).count(), 6);
        for a in f.anchors.iter().filter(|a| a.fitted) {
            // Only Fig. 2's renormalisation (its shares sum to 99.9 %) is left over.
            assert!(a.residual().abs() < 0.0011, "{a:?}");
        }
    }

    #[test]
    fn held_out_anchors_stay_within_the_stated_residuals() {
        let f = run_fit();
        let held: Vec<&Anchor> = f.anchors.iter().filter(|a| !a.fitted).collect();
        assert_eq!(held.len(), 3);
        // One cost for both matmuls cannot split them 16.4 / 10.6; the two throughputs are
        // read off a log-scale figure. The README and EXPERIMENTS.md state these residuals.
        for (a, bound) in held.iter().zip([0.20, 0.50, 0.25]) {
            assert!(a.residual().abs() < bound, "{a:?}");
        }
    }

    #[test]
    fn shipped_profiles_hold_the_fitted_constants() {
        for c in run_fit().constants {
            for shipped in shipped_values(&c).unwrap() {
                assert!(
                    (shipped / c.value - 1.0).abs() < 0.005,
                    "{} {}: shipped {shipped}, fit {}",
                    c.device,
                    c.key,
                    c.value
                );
            }
        }
    }

    #[test]
    fn bisection_finds_the_root() {
        let x = solve_increasing(|x| x * x, 2.0, 10.0);
        assert!((x - 2f64.sqrt()).abs() < 1e-12);
    }
}
