//! Device profiles: the schema of `arch/baselines/*.toml`, validation and loading.
//!
//! A profile is either a roofline device (CPU/GPU: peak compute, memory bandwidth, achieved
//! efficiency factors, per-kernel overhead, power) or an accelerator known only by its
//! published throughput and energy efficiency. Every number is a [`Sourced`] value.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BaselineError;
use super::presets;
use crate::config::ConfigError;
use crate::config::error::{Checker, locate_key};

/// A number with the place it comes from (datasheet, paper, derivation or stated assumption).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sourced {
    pub value: f64,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    Cpu,
    Gpu,
    Accelerator,
}

impl DeviceKind {
    pub fn label(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Gpu => "gpu",
            DeviceKind::Accelerator => "accelerator",
        }
    }
}

/// A device profile (`arch/baselines/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceProfile {
    pub name: String,
    pub description: String,
    pub kind: DeviceKind,
    /// CPUs and GPUs: the roofline model. Absent for accelerators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofline: Option<RooflineParams>,
    /// Accelerators: published throughput and energy efficiency. Absent for CPUs and GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishedFigures>,
    /// Required with `roofline`; accelerators derive power from their published figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerParams>,
    /// CPUs and GPUs: per-operator framework costs of the eager and fused models
    /// ([`super::framework`]). Without it only the ideal-kernel model is available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<FrameworkParams>,
}

/// Fixed cost per dispatched operator by class, and of one fused kernel, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkParams {
    /// Each split/view/permute/cat/stack/contiguous operator.
    pub layout_op_us: Sourced,
    /// Each transpose/scale/mask/softmax/dropout operator.
    pub softmax_op_us: Sourced,
    /// Each of the two matmuls.
    pub matmul_op_us: Sourced,
    /// One fused attention kernel per layer and step, launched from a CUDA graph (GPUs) or
    /// dispatched once (CPUs).
    pub fused_kernel_us: Sourced,
}

impl FrameworkParams {
    pub fn op_us(&self, class: super::framework::OpClass) -> f64 {
        use super::framework::OpClass;
        match class {
            OpClass::Layout => self.layout_op_us.value,
            OpClass::Softmax => self.softmax_op_us.value,
            OpClass::MatMul => self.matmul_op_us.value,
        }
    }
}

/// Roofline parameters of a CPU or GPU running small-batch attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RooflineParams {
    pub peak_fp32_gflops: Sourced,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_fp16_gflops: Option<Sourced>,
    pub memory_bandwidth_gbps: Sourced,
    /// Cores of the whole device; lets a measurement on fewer cores scale the power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<Sourced>,
    /// Achieved fraction of peak compute in the attention kernels, in (0, 1].
    pub compute_efficiency: Sourced,
    /// Achieved fraction of peak memory bandwidth in the attention kernels, in (0, 1].
    pub bandwidth_efficiency: Sourced,
    /// Fixed cost added to every kernel (framework dispatch + launch), microseconds.
    pub kernel_overhead_us: Sourced,
}

/// Published figures of an accelerator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedFigures {
    /// Throughput counted in operations of the dense attention (as the paper counts), GOP/s.
    pub throughput_gops: Sourced,
    pub energy_efficiency_gops_per_j: Sourced,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technology_nm: Option<Sourced>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_mhz: Option<Sourced>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_mm2: Option<Sourced>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipliers: Option<Sourced>,
}

/// Power of a CPU or GPU. At least one of `tdp_w`, `loaded_w` and `dynamic_w` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdp_w: Option<Sourced>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_w: Option<Sourced>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded_w: Option<Sourced>,
    /// Dynamic (loaded - idle) power derived directly from published figures; when present it
    /// is used instead of `loaded_w`/`tdp_w` minus `idle_w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_w: Option<Sourced>,
}

/// The dynamic power used for energy (loaded - idle, as the paper does) and how it was formed.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicPower {
    pub watts: f64,
    pub basis: String,
}

impl PowerParams {
    /// Dynamic power = loaded - idle. Loaded falls back to the TDP and idle to zero when they
    /// are not published; the basis says which, since TDP - 0 is an upper bound.
    pub fn dynamic(&self) -> DynamicPower {
        if let Some(d) = &self.dynamic_w {
            return DynamicPower {
                watts: d.value,
                basis: format!("dynamic power {} W derived from published figures", d.value),
            };
        }
        let (loaded, loaded_label) = match (&self.loaded_w, &self.tdp_w) {
            (Some(l), _) => (l.value, "published loaded power"),
            (None, Some(t)) => (t.value, "TDP as loaded power"),
            // Validation guarantees one of the two; zero keeps this total for unvalidated input.
            (None, None) => (0.0, "no loaded power"),
        };
        let (idle, idle_label) = match &self.idle_w {
            Some(i) => (i.value, "minus published idle power"),
            None => (0.0, "no published idle power (upper bound)"),
        };
        DynamicPower {
            watts: loaded - idle,
            basis: format!("{loaded_label} {loaded} W, {idle_label} {idle} W"),
        }
    }
}

impl RooflineParams {
    /// The compute ceiling the model uses: fp32 peak x compute efficiency, GFLOP/s.
    pub fn achieved_fp32_gflops(&self) -> f64 {
        self.peak_fp32_gflops.value * self.compute_efficiency.value
    }

    /// The bandwidth ceiling the model uses: peak x bandwidth efficiency, GB/s.
    pub fn achieved_bandwidth_gbps(&self) -> f64 {
        self.memory_bandwidth_gbps.value * self.bandwidth_efficiency.value
    }

    /// The intensity (FLOP per byte) where the achieved compute and bandwidth ceilings meet.
    pub fn ridge_flop_per_byte(&self) -> f64 {
        self.achieved_fp32_gflops() / self.achieved_bandwidth_gbps()
    }
}

impl DeviceProfile {
    fn check(&self, c: &mut Checker) {
        if self.name.trim().is_empty() {
            c.fail("name", "must not be empty");
        }
        match (self.kind, &self.roofline, &self.published) {
            (DeviceKind::Accelerator, None, Some(p)) => {
                positive(c, "published.throughput_gops", &p.throughput_gops);
                positive(
                    c,
                    "published.energy_efficiency_gops_per_j",
                    &p.energy_efficiency_gops_per_j,
                );
                for (k, v) in [
                    ("published.technology_nm", &p.technology_nm),
                    ("published.frequency_mhz", &p.frequency_mhz),
                    ("published.area_mm2", &p.area_mm2),
                    ("published.multipliers", &p.multipliers),
                ] {
                    if let Some(v) = v {
                        positive(c, k, v);
                    }
                }
                if self.framework.is_some() {
                    c.fail(
                        "framework",
                        "an accelerator is modelled from its published figures; remove [framework]",
                    );
                }
                if self.power.is_some() {
                    c.fail(
                        "power",
                        "an accelerator's power follows from its published figures; remove [power]",
                    );
                }
            }
            (DeviceKind::Accelerator, _, _) => c.fail(
                "published",
                "an accelerator needs [published] and no [roofline]",
            ),
            (_, Some(r), None) => {
                positive(c, "roofline.peak_fp32_gflops", &r.peak_fp32_gflops);
                if let Some(f) = &r.peak_fp16_gflops {
                    positive(c, "roofline.peak_fp16_gflops", f);
                }
                positive(
                    c,
                    "roofline.memory_bandwidth_gbps",
                    &r.memory_bandwidth_gbps,
                );
                if let Some(cores) = &r.cores {
                    positive(c, "roofline.cores", cores);
                    if cores.value.fract() != 0.0 {
                        c.fail(
                            "roofline.cores.value",
                            format!("must be a whole number (got {})", cores.value),
                        );
                    }
                }
                fraction(c, "roofline.compute_efficiency", &r.compute_efficiency);
                fraction(c, "roofline.bandwidth_efficiency", &r.bandwidth_efficiency);
                non_negative(c, "roofline.kernel_overhead_us", &r.kernel_overhead_us);
                match &self.power {
                    None => c.fail("power", "a CPU or GPU profile needs a [power] table"),
                    Some(p) => check_power(c, p),
                }
                if let Some(f) = &self.framework {
                    for (k, v) in [
                        ("framework.layout_op_us", &f.layout_op_us),
                        ("framework.softmax_op_us", &f.softmax_op_us),
                        ("framework.matmul_op_us", &f.matmul_op_us),
                        ("framework.fused_kernel_us", &f.fused_kernel_us),
                    ] {
                        non_negative(c, k, v);
                    }
                }
            }
            (_, _, _) => c.fail(
                "roofline",
                "a CPU or GPU profile needs [roofline] and no [published]",
            ),
        }
    }
}

fn check_power(c: &mut Checker, p: &PowerParams) {
    for (k, v) in [("power.tdp_w", &p.tdp_w), ("power.loaded_w", &p.loaded_w)] {
        if let Some(v) = v {
            positive(c, k, v);
        }
    }
    if let Some(i) = &p.idle_w {
        non_negative(c, "power.idle_w", i);
    }
    if let Some(d) = &p.dynamic_w {
        positive(c, "power.dynamic_w", d);
    }
    if p.tdp_w.is_none() && p.loaded_w.is_none() && p.dynamic_w.is_none() {
        c.fail("power", "needs tdp_w, loaded_w or dynamic_w");
    }
    if p.idle_w.is_some() && p.dynamic().watts <= 0.0 {
        c.fail(
            "power.idle_w",
            "idle power must be below the loaded power (or TDP)",
        );
    }
}

fn sourced(c: &mut Checker, key: &str, v: &Sourced) {
    if v.source.trim().is_empty() {
        c.fail(
            &format!("{key}.source"),
            "every number needs a non-empty source",
        );
    }
}

fn positive(c: &mut Checker, key: &str, v: &Sourced) {
    sourced(c, key, v);
    if !(v.value > 0.0 && v.value.is_finite()) {
        c.fail(
            &format!("{key}.value"),
            format!("must be a finite number > 0 (got {})", v.value),
        );
    }
}

fn non_negative(c: &mut Checker, key: &str, v: &Sourced) {
    sourced(c, key, v);
    if !(v.value >= 0.0 && v.value.is_finite()) {
        c.fail(
            &format!("{key}.value"),
            format!("must be a finite number >= 0 (got {})", v.value),
        );
    }
}

fn fraction(c: &mut Checker, key: &str, v: &Sourced) {
    sourced(c, key, v);
    if !(v.value > 0.0 && v.value <= 1.0) {
        c.fail(
            &format!("{key}.value"),
            format!("must be in (0, 1] (got {})", v.value),
        );
    }
}

/// Loads a profile by preset name (`titan-xp`) or by path to a TOML file.
pub fn load_profile(spec: &str) -> Result<DeviceProfile, BaselineError> {
    let looks_like_path = spec.ends_with(".toml") || spec.contains('/') || spec.contains('\\');
    let path = Path::new(spec);
    // A preset name is never shadowed by a stray file of that name in the current directory.
    let preset = presets::DEVICES.iter().any(|(n, _)| *n == spec);
    if looks_like_path || (!preset && path.is_file()) {
        let text = std::fs::read_to_string(path).map_err(|e| BaselineError::Io {
            path: path.to_path_buf(),
            error: e,
        })?;
        return Ok(profile_from_str(&text, path)?);
    }
    match presets::DEVICES.iter().find(|(n, _)| *n == spec) {
        Some((name, text)) => Ok(profile_from_str(
            text,
            &PathBuf::from(format!("<preset {name}>")),
        )?),
        None => {
            let names: Vec<&str> = presets::DEVICES.iter().map(|(n, _)| *n).collect();
            Err(ConfigError::new(
                path,
                None,
                format!(
                    "no such file and no device profile of that name (profiles: {})",
                    names.join(", ")
                ),
            )
            .into())
        }
    }
}

/// Parses and validates a profile from TOML text; `label` names the file in errors.
pub fn profile_from_str(text: &str, label: &Path) -> Result<DeviceProfile, ConfigError> {
    let de = toml::Deserializer::new(text);
    let profile: DeviceProfile = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let line = inner
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let reason = inner.message().trim().replace('\n', "; ");
        ConfigError::new(label, (key != ".").then_some(key), reason).at_line(line)
    })?;
    let mut c = Checker::default();
    profile.check(&mut c);
    if let Some(v) = c.violations.into_iter().next() {
        let line = locate_key(text, &v.key).or_else(|| {
            // `x.value` keys live in inline tables: point at the line of `x`.
            v.key
                .strip_suffix(".value")
                .or(v.key.strip_suffix(".source"))
                .and_then(|k| locate_key(text, k))
        });
        return Err(ConfigError::new(label, Some(v.key), v.reason).at_line(line));
    }
    Ok(profile)
}

/// All shipped profiles, in preset order.
pub fn all_presets() -> Result<Vec<DeviceProfile>, BaselineError> {
    presets::DEVICES
        .iter()
        .map(|(n, _)| load_profile(n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_and_is_named_after_its_file() {
        for (name, _) in presets::DEVICES {
            let p = load_profile(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&p.name, name);
        }
    }

    #[test]
    fn titan_xp_peak_matches_its_derivation() {
        let p = load_profile("titan-xp").unwrap();
        let r = p.roofline.unwrap();
        // 3840 cores x 1.582 GHz x 2.
        assert!((r.peak_fp32_gflops.value - 3840.0 * 1.582 * 2.0).abs() < 1.0);
        assert!((r.ridge_flop_per_byte() - 12150.0 * 0.5 / (547.7 * 0.75)).abs() < 1e-9);
    }

    #[test]
    fn dynamic_power_is_loaded_minus_idle() {
        let p = load_profile("raspberry-pi-4").unwrap().power.unwrap();
        assert!((p.dynamic().watts - (6.4 - 2.7)).abs() < 1e-12);
        let t = load_profile("jetson-nano").unwrap().power.unwrap();
        assert_eq!(t.dynamic().watts, 10.0);
        assert!(t.dynamic().basis.contains("upper bound"));
        // A derived dynamic power wins over TDP.
        let x = load_profile("titan-xp").unwrap().power.unwrap();
        assert_eq!(x.dynamic().watts, 61.1);
        assert!(x.dynamic().basis.contains("derived"));
    }

    #[test]
    fn errors_name_file_line_key_and_reason() {
        let text = "name = \"x\"\ndescription = \"d\"\nkind = \"gpu\"\n[roofline]\n\
            peak_fp32_gflops = { value = 1.0, source = \"s\" }\n\
            memory_bandwidth_gbps = { value = 1.0, source = \"s\" }\n\
            compute_efficiency = { value = 1.5, source = \"s\" }\n\
            bandwidth_efficiency = { value = 0.5, source = \"s\" }\n\
            kernel_overhead_us = { value = 1.0, source = \"s\" }\n\
            [power]\ntdp_w = { value = 5.0, source = \"s\" }\n";
        let e = profile_from_str(text, Path::new("bad.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("roofline.compute_efficiency.value"));
        assert_eq!(e.line, Some(7));
        assert!(
            e.to_string().starts_with(
                "bad.toml:7: key `roofline.compute_efficiency.value`: must be in (0, 1]"
            )
        );

        let unknown = text.replace("kind = \"gpu\"", "kind = \"gpu\"\nspeed = 3");
        let e = profile_from_str(&unknown, Path::new("u.toml")).unwrap_err();
        assert!(e.reason.contains("unknown field `speed`"), "{e}");

        let no_source = text.replace(
            "compute_efficiency = { value = 1.5, source = \"s\" }",
            "compute_efficiency = { value = 0.5, source = \" \" }",
        );
        let e = profile_from_str(&no_source, Path::new("n.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("roofline.compute_efficiency.source"));

        let no_power = text.split("[power]").next().unwrap().replace("1.5", "0.5");
        let e = profile_from_str(&no_power, Path::new("p.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("power"));
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let e = profile_from_str("name = \"x\"\nkind =\n", Path::new("s.toml")).unwrap_err();
        assert_eq!(
            (e.file.as_path(), e.line),
            (Path::new("s.toml"), Some(2)),
            "{e}"
        );
        let e = profile_from_str(
            "name = \"x\"\ndescription = \"d\"\nkind = \"tpu\"\n",
            Path::new("k.toml"),
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("kind"), "{e}");
        assert!(e.reason.contains("unknown variant"), "{e}");
    }

    #[test]
    fn unknown_name_lists_the_profiles() {
        let e = load_profile("no-such-gpu").unwrap_err().to_string();
        assert!(e.contains("titan-xp") && e.contains("mnnfast"), "{e}");
    }
}
