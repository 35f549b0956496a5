//! Sweep specifications: a base architecture, workloads, axes over dotted keys (cartesian
//! product and zipped groups) and constraints, expanded into numbered design points.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::constraint::Constraint;
use crate::config::{self, ArchConfig, ConfigError, ConfigKind, WorkloadConfig, error::locate_key};

/// Which configuration an axis changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Arch,
    Workload,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The key as written in the spec (column name in results).
    pub key: String,
    pub target: Target,
    /// The key inside its configuration (without an `arch.` / `workload.` prefix).
    pub path: String,
    pub values: Vec<toml::Value>,
}

#[derive(Debug, Clone)]
pub struct SweepSpec {
    pub file: PathBuf,
    pub name: String,
    pub arch: String,
    pub workloads: Vec<String>,
    /// Axes combined as a cartesian product, first axis slowest.
    pub product: Vec<Axis>,
    /// Axes that move together; the group forms one more (fastest) product axis.
    pub zip: Vec<Axis>,
    pub constraints: Vec<Constraint>,
    /// SHA-256 prefix of the spec text: shards and resumed runs must share it.
    pub hash: String,
}

/// One design point: a workload plus one value per axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: usize,
    pub workload: String,
    /// (axis key, value) in the order of `SweepSpec::axes()`.
    pub settings: Vec<(String, toml::Value)>,
}

/// A point turned into validated configurations, or the reason it cannot run.
#[derive(Debug)]
pub enum Resolved {
    Ready(Box<(ArchConfig, WorkloadConfig)>),
    Invalid(String),
    Skipped(String),
}

/// Above this the point count is not even worth computing (point ids are `usize`; a sweep
/// run also checks the count against `--max-points`).
pub const MAX_POINTS_REPRESENTABLE: u64 = 1 << 48;

const TOP_KEYS: [&str; 6] = ["name", "arch", "workloads", "constraints", "axes", "zip"];

impl SweepSpec {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(path, None, format!("cannot read sweep spec: {e}")))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let err = |key: &str, reason: String| {
            ConfigError::new(path, Some(key.to_string()), reason).at_line(locate_key(text, key))
        };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            ConfigError::new(path, None, format!("invalid TOML: {}", e.message().trim()))
                .at_line(line)
        })?;
        for k in table.keys() {
            if !TOP_KEYS.contains(&k.as_str()) {
                return Err(err(k, format!("unknown key; expected one of {TOP_KEYS:?}")));
            }
        }
        let string = |key: &str, default: Option<&str>| match table.get(key) {
            Some(toml::Value::String(s)) => Ok(s.clone()),
            None => default
                .map(str::to_string)
                .ok_or_else(|| err(key, "missing (a string)".into())),
            Some(_) => Err(err(key, "must be a string".into())),
        };
        let strings = |key: &str| -> Result<Vec<String>, ConfigError> {
            match table.get(key) {
                None => Ok(Vec::new()),
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| err(key, "must be an array of strings".into()))
                    })
                    .collect(),
                Some(_) => Err(err(key, "must be an array of strings".into())),
            }
        };
        let name = string("name", None)?;
        let arch = string("arch", Some("spatten"))?;
        let workloads = strings("workloads")?;
        if workloads.is_empty() {
            return Err(err("workloads", "needs at least one workload".into()));
        }
        let constraints = strings("constraints")?
            .iter()
            .map(|c| Constraint::parse(c).map_err(|e| err("constraints", e)))
            .collect::<Result<Vec<_>, _>>()?;

        // Table names decide whether a key belongs to the architecture or the workload.
        let base_arch = config::load_arch(&arch).map_err(|e| err("arch", e.to_string()))?;
        let base_workload =
            config::load_workload(&workloads[0]).map_err(|e| err("workloads", e.to_string()))?;
        let arch_table = arch_routing_table(&base_arch);
        let workload_table = routing_table(&base_workload);

        let axes_of = |section: &str| -> Result<Vec<Axis>, ConfigError> {
            let mut out = Vec::new();
            match table.get(section) {
                None => {}
                Some(toml::Value::Table(t)) => {
                    flatten(section, "", t, &mut out).map_err(|(k, reason)| err(&k, reason))?
                }
                Some(_) => return Err(err(section, "must be a table of key = [values]".into())),
            }
            out.into_iter()
                .map(|(key, values)| {
                    let full = format!("{section}.{key}");
                    let (target, path) = route(&key, &arch_table, &workload_table)
                        .map_err(|reason| err(&full, reason))?;
                    if values.is_empty() {
                        return Err(err(&full, "needs at least one value".into()));
                    }
                    // Equal values would run the same point twice (and write two rows of it).
                    for (i, v) in values.iter().enumerate() {
                        if let Some(j) = values[..i].iter().position(|u| u == v) {
                            return Err(err(
                                &full,
                                format!(
                                    "lists {v} twice (values {j} and {i} of {}); each point \
                                     would run more than once",
                                    values.len()
                                ),
                            ));
                        }
                    }
                    Ok(Axis {
                        key,
                        target,
                        path,
                        values,
                    })
                })
                .collect()
        };
        let product = axes_of("axes")?;
        let zip = axes_of("zip")?;
        if let Some(first) = zip.first() {
            for a in &zip {
                if a.values.len() != first.values.len() {
                    return Err(err(
                        &format!("zip.{}", a.key),
                        format!(
                            "has {} values but zip.{} has {}; zipped axes move together",
                            a.values.len(),
                            first.key,
                            first.values.len()
                        ),
                    ));
                }
            }
        }
        let counts = std::iter::once(workloads.len())
            .chain(product.iter().map(|a| a.values.len()))
            .chain(zip.first().map(|a| a.values.len()));
        if counts
            .map(|n| n as u64)
            .try_fold(1u64, u64::checked_mul)
            .is_none_or(|n| n > MAX_POINTS_REPRESENTABLE)
        {
            return Err(err(
                "axes",
                format!(
                    "the axes' product is above {MAX_POINTS_REPRESENTABLE} points; split the sweep"
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in product.iter().chain(&zip) {
            if !seen.insert((a.target == Target::Arch, a.path.clone())) {
                return Err(err(&a.key, "is swept twice".into()));
            }
        }
        for c in &constraints {
            for k in c.keys() {
                route(k, &arch_table, &workload_table)
                    .map_err(|reason| err("constraints", format!("`{k}`: {reason}")))?;
            }
        }
        let hash = Sha256::digest(text.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            file: path.to_path_buf(),
            name,
            arch,
            workloads,
            product,
            zip,
            constraints,
            hash,
        })
    }

    /// All axes in column order: product axes, then the zipped group.
    pub fn axes(&self) -> impl Iterator<Item = &Axis> {
        self.product.iter().chain(&self.zip)
    }

    fn combinations_per_workload(&self) -> usize {
        let zip_len = self.zip.first().map_or(1, |a| a.values.len());
        self.product
            .iter()
            .map(|a| a.values.len())
            .fold(zip_len, usize::saturating_mul)
    }

    /// Saturates at `usize::MAX`, so a huge spec compares as huge against a limit.
    pub fn point_count(&self) -> usize {
        self.workloads
            .len()
            .saturating_mul(self.combinations_per_workload())
    }

    /// Point `id` (0-based): workloads slowest, then product axes in order, zip group fastest.
    pub fn point(&self, id: usize) -> Point {
        let per = self.combinations_per_workload();
        let workload = self.workloads[id / per].clone();
        let mut rest = id % per;
        let zip_len = self.zip.first().map_or(1, |a| a.values.len());
        let zip_index = rest % zip_len;
        rest /= zip_len;
        let mut settings = Vec::new();
        let mut divisor: usize = self.product.iter().map(|a| a.values.len()).product();
        for a in &self.product {
            divisor /= a.values.len();
            settings.push((a.key.clone(), a.values[rest / divisor].clone()));
            rest %= divisor;
        }
        for a in &self.zip {
            settings.push((a.key.clone(), a.values[zip_index].clone()));
        }
        Point {
            id,
            workload,
            settings,
        }
    }

    pub fn points(&self) -> impl Iterator<Item = Point> + '_ {
        (0..self.point_count()).map(|i| self.point(i))
    }

    /// Builds and validates a point's configurations and checks the constraints.
    pub fn resolve(&self, point: &Point) -> Resolved {
        let overrides = |target: Target| -> Vec<(String, toml::Value)> {
            self.axes()
                .zip(&point.settings)
                .filter(|(a, _)| a.target == target)
                .map(|(a, (_, v))| (a.path.clone(), v.clone()))
                .collect()
        };
        let arch: ArchConfig = match config::load_with_overrides(
            &self.arch,
            ConfigKind::Arch,
            &overrides(Target::Arch),
        ) {
            Ok(a) => a,
            Err(e) => return Resolved::Invalid(describe(&e)),
        };
        let workload: WorkloadConfig = match config::load_with_overrides(
            &point.workload,
            ConfigKind::Workload,
            &overrides(Target::Workload),
        ) {
            Ok(w) => w,
            Err(e) => return Resolved::Invalid(describe(&e)),
        };
        if let Err(e) = config::check_feasible(&arch, &workload) {
            return Resolved::Invalid(describe(&e));
        }
        let arch_table = toml::Table::try_from(&arch).expect("configs serialize");
        let workload_table = routing_table(&workload);
        let lookup = |key: &str| -> Option<f64> {
            let (target, path) = route(key, &arch_table, &workload_table).ok()?;
            let t = if target == Target::Arch {
                &arch_table
            } else {
                &workload_table
            };
            match get_dotted(t, &path)? {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) => Some(*f),
                toml::Value::Boolean(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            }
        };
        for c in &self.constraints {
            match c.holds(&lookup) {
                Ok(true) => {}
                Ok(false) => return Resolved::Skipped(format!("constraint `{c}` is false")),
                Err(e) => return Resolved::Invalid(e),
            }
        }
        Resolved::Ready(Box::new((arch, workload)))
    }
}

fn describe(e: &ConfigError) -> String {
    match &e.key {
        Some(k) => format!("{k}: {}", e.reason),
        None => e.reason.clone(),
    }
}

/// Flattens nested tables so `qk.multipliers = [..]` and `"qk.multipliers" = [..]` mean the same.
fn flatten(
    section: &str,
    prefix: &str,
    t: &toml::Table,
    out: &mut Vec<(String, Vec<toml::Value>)>,
) -> Result<(), (String, String)> {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten(section, &key, inner, out)?,
            toml::Value::Array(values) => out.push((key, values.clone())),
            _ => {
                return Err((
                    format!("{section}.{key}"),
                    "must be an array of values to sweep".into(),
                ));
            }
        }
    }
    Ok(())
}

/// A workload's keys as a table, with those it leaves out at their defaults (a batch of one
/// sequence) filled in, so that sweeps and constraints can name them.
fn routing_table(w: &WorkloadConfig) -> toml::Table {
    let mut t = toml::Table::try_from(w).expect("configs serialize");
    if let Some(toml::Value::Table(stage)) = t.get_mut("stage") {
        stage
            .entry("batch")
            .or_insert(toml::Value::Integer(i64::from(w.stage.batch)));
    }
    t
}

/// An architecture's keys as a table for routing sweep axes, with the optional ones it leaves
/// out filled in (`topk_value.candidate_entries`, absent for an engine that ranks in place,
/// routed by a placeholder 0 that no point keeps: an axis sets it on every point).
fn arch_routing_table(a: &ArchConfig) -> toml::Table {
    let mut t = toml::Table::try_from(a).expect("configs serialize");
    if let Some(toml::Value::Table(engine)) = t.get_mut("topk_value") {
        engine
            .entry("candidate_entries")
            .or_insert(toml::Value::Integer(0));
    }
    t
}

/// Decides which configuration a dotted key belongs to and checks that it exists there.
fn route(
    key: &str,
    arch: &toml::Table,
    workload: &toml::Table,
) -> Result<(Target, String), String> {
    if let Some(rest) = key.strip_prefix("arch.") {
        return exists(arch, rest)
            .then(|| (Target::Arch, rest.to_string()))
            .ok_or_else(|| format!("no architecture key `{rest}`"));
    }
    if let Some(rest) = key.strip_prefix("workload.") {
        return exists(workload, rest)
            .then(|| (Target::Workload, rest.to_string()))
            .ok_or_else(|| format!("no workload key `{rest}`"));
    }
    match (exists(arch, key), exists(workload, key)) {
        (true, false) => Ok((Target::Arch, key.to_string())),
        (false, true) => Ok((Target::Workload, key.to_string())),
        (true, true) => Err(format!(
            "`{key}` exists in both the architecture and the workload; write arch.{key} or workload.{key}"
        )),
        (false, false) => Err(format!("no architecture or workload key `{key}`")),
    }
}

fn get_dotted<'a>(t: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut v = t.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

fn exists(t: &toml::Table, key: &str) -> bool {
    matches!(get_dotted(t, key), Some(v) if !v.is_table())
}

/// A value as it appears in a results column.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
