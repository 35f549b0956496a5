//! Runs a sweep's points in parallel, appending one row per finished point.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::SweepError;
use super::results::{self, Appender, Manifest, RESULTS_FILE};
use super::spec::{Point, Resolved, SweepSpec, value_text};
use crate::config::{self, ArchConfig, ConfigKind, WorkloadConfig};
use crate::output_dir::OutputDir;

/// Computes the metric columns of one valid design point.
pub trait Evaluator: Sync {
    fn metric_columns(&self) -> Vec<String>;
    /// One value per metric column, or why the point failed.
    fn evaluate(&self, arch: &ArchConfig, workload: &WorkloadConfig)
    -> Result<Vec<String>, String>;
    /// Called once before any point runs, with each distinct workload of the points that
    /// will run. An evaluator that shares work across a workload's points (its trace) does
    /// it here, all workloads in parallel, so no worker sits waiting for another's result.
    fn prepare(&self, _workloads: &[&WorkloadConfig]) {}
}

#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub out: PathBuf,
    /// Worker threads (>= 1).
    pub jobs: usize,
    /// Skip points whose rows are already in `out/results.csv`.
    pub resume: bool,
    /// Run only points with id % count == index.
    pub shard: Option<(usize, usize)>,
    pub progress: bool,
    /// Refuse a spec with more points than this (before anything is allocated).
    pub max_points: usize,
    /// Use an `out` that holds files spatten did not write (they are kept).
    pub force: bool,
}

impl SweepOptions {
    /// The `--max-points` default: a day or more of simulation on a workstation.
    pub const DEFAULT_MAX_POINTS: usize = 10_000;
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepSummary {
    pub points_total: usize,
    pub points_in_shard: usize,
    pub already_done: usize,
    pub ran: usize,
    pub ok: usize,
    pub invalid: usize,
    pub skipped: usize,
    pub failed: usize,
    pub seconds: f64,
}

impl SweepSummary {
    pub fn points_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ran as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Column names: point, workload, one per axis, status, detail, then the metrics.
pub fn columns(spec: &SweepSpec, evaluator: &dyn Evaluator) -> Vec<String> {
    let mut c = vec!["point".to_string(), "workload".to_string()];
    c.extend(spec.axes().map(|a| a.key.clone()));
    c.push("status".into());
    c.push("detail".into());
    c.extend(evaluator.metric_columns());
    c
}

pub fn run_sweep(
    spec: &SweepSpec,
    evaluator: &dyn Evaluator,
    options: &SweepOptions,
) -> Result<SweepSummary, SweepError> {
    run_sweep_with(spec, evaluator, options, &|_, _| {})
}

/// [`run_sweep`], calling `on_point(finished, to_run)` from the worker thread after each
/// point's row is written (the Python package forwards it to a progress callback).
pub fn run_sweep_with(
    spec: &SweepSpec,
    evaluator: &dyn Evaluator,
    options: &SweepOptions,
    on_point: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepSummary, SweepError> {
    let columns = columns(spec, evaluator);
    let metrics = evaluator.metric_columns().len();
    let points_total = checked_point_count(spec, options.max_points)?;
    let manifest = Manifest {
        name: spec.name.clone(),
        spec_hash: spec.hash.clone(),
        points_total,
        shard: options.shard,
        columns: columns.clone(),
        inputs: input_hashes(spec)?,
    };
    let out = &options.out;
    let results_path = out.join(RESULTS_FILE);
    OutputDir::new(out, "sweep")
        .force(options.force)
        .claim(&results::OWN_FILES)?;
    // Held to the end: a second writer would interleave rows and race on the files.
    let _lock = results::lock(out)?;
    let done = if results_path.exists() {
        if !options.resume {
            return Err(SweepError::Usage(format!(
                "{} already exists: pass --resume to continue it, or choose another --out",
                results_path.display()
            )));
        }
        let previous = Manifest::read(out)?;
        if previous.spec_hash != manifest.spec_hash || previous.shard != manifest.shard {
            return Err(SweepError::Usage(format!(
                "{} holds a different sweep or shard; it cannot be resumed with this spec",
                out.display()
            )));
        }
        if let Some((file, before, now)) =
            results::changed_input(&previous.inputs, &manifest.inputs)
        {
            return Err(SweepError::Usage(format!(
                "{}: cannot resume: {file} changed since this sweep started (sha256 {before}, \
                 now {now}), so old and new rows would mix; restore it, or run the sweep again \
                 into another --out",
                out.display()
            )));
        }
        results::read_rows(&results_path, &columns)?
    } else {
        results::Rows::new()
    };
    manifest.write(out)?;

    let in_shard = |id: usize| options.shard.is_none_or(|(k, n)| id % n == k);
    let shard_ids: Vec<usize> = (0..points_total).filter(|&i| in_shard(i)).collect();
    let todo: Vec<usize> = shard_ids
        .iter()
        .copied()
        .filter(|i| !done.contains_key(i))
        .collect();

    let appender = Mutex::new(Appender::open(&results_path, &columns)?);
    let bar = if options.progress {
        ProgressBar::new(todo.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} points  {elapsed} elapsed, ETA {eta}  {msg}",
        )
        .expect("valid template"),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|e| SweepError::Usage(format!("cannot start {} threads: {e}", options.jobs)))?;
    let start = Instant::now();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let written: Result<Vec<String>, SweepError> = pool.install(|| {
        let resolved: Vec<(Point, Resolved)> = todo
            .par_iter()
            .map(|&id| {
                let point = spec.point(id);
                let r = spec.resolve(&point);
                (point, r)
            })
            .collect();
        evaluator.prepare(&distinct_workloads(&resolved));
        resolved
            .into_par_iter()
            .map(|(point, resolved)| {
                let id = point.id;
                let mut row = vec![id.to_string(), point.workload.clone()];
                row.extend(point.settings.iter().map(|(_, v)| value_text(v)));
                let (status, detail, values) = match resolved {
                    Resolved::Ready(cfg) => match evaluator.evaluate(&cfg.0, &cfg.1) {
                        Ok(v) => ("ok", String::new(), v),
                        Err(e) => ("failed", e, vec![String::new(); metrics]),
                    },
                    Resolved::Invalid(e) => ("invalid", e, vec![String::new(); metrics]),
                    Resolved::Skipped(e) => ("skipped", e, vec![String::new(); metrics]),
                };
                row.push(status.to_string());
                row.push(detail);
                row.extend(values);
                appender
                    .lock()
                    .expect("no panics while holding the lock")
                    .append(&row)
                    .map_err(|e| SweepError::io_while(&results_path, "appending a row", e))?;
                bar.inc(1);
                let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                on_point(n, todo.len());
                Ok(status.to_string())
            })
            .collect()
    });
    let statuses = written?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    // Rewrite sorted by point id so the file is identical for any --jobs or interruption.
    let rows = results::read_rows(&results_path, &columns)?;
    results::write_sorted(&results_path, &columns, &rows)?;
    let count = |s: &str| statuses.iter().filter(|x| x.as_str() == s).count();
    Ok(SweepSummary {
        points_total,
        points_in_shard: shard_ids.len(),
        already_done: shard_ids.len() - todo.len(),
        ran: todo.len(),
        ok: count("ok"),
        invalid: count("invalid"),
        skipped: count("skipped"),
        failed: count("failed"),
        seconds,
    })
}

/// One of each distinct workload (by content) among the points that will run, in point order.
fn distinct_workloads(resolved: &[(Point, Resolved)]) -> Vec<&WorkloadConfig> {
    let mut seen = std::collections::HashSet::new();
    resolved
        .iter()
        .filter_map(|(_, r)| match r {
            Resolved::Ready(cfg) => Some(&cfg.1),
            _ => None,
        })
        .filter(|w| seen.insert(config::config_hash(*w)))
        .collect()
}

/// The spec's point count, computed without overflow and bounded by `max`.
fn checked_point_count(spec: &SweepSpec, max: usize) -> Result<usize, SweepError> {
    let zip_len = spec.zip.first().map_or(1, |a| a.values.len());
    let count = spec
        .product
        .iter()
        .try_fold(spec.workloads.len().checked_mul(zip_len), |n, a| {
            Some(n?.checked_mul(a.values.len()))
        })
        .flatten();
    let describe = || {
        let mut sizes: Vec<String> = vec![format!("{} workload(s)", spec.workloads.len())];
        sizes.extend(
            spec.product
                .iter()
                .map(|a| format!("{} x {}", a.values.len(), a.key)),
        );
        if zip_len > 1 {
            sizes.push(format!("{zip_len} zipped"));
        }
        sizes.join(" * ")
    };
    match count {
        Some(n) if n <= max => Ok(n),
        Some(n) => Err(SweepError::Usage(format!(
            "{}: {n} points ({}) exceed --max-points {max}; narrow the axes or raise the limit",
            spec.file.display(),
            describe()
        ))),
        None => Err(SweepError::Usage(format!(
            "{}: the point count ({}) does not fit in 64 bits; narrow the axes",
            spec.file.display(),
            describe()
        ))),
    }
}

/// SHA-256 prefixes of every file the spec reads: its architecture and workloads with their
/// `base` chains (embedded presets by name).
fn input_hashes(spec: &SweepSpec) -> Result<BTreeMap<String, String>, SweepError> {
    let mut refs = vec![(spec.arch.clone(), ConfigKind::Arch)];
    refs.extend(
        spec.workloads
            .iter()
            .map(|w| (w.clone(), ConfigKind::Workload)),
    );
    let mut out = BTreeMap::new();
    for (name, kind) in refs {
        let sources = config::sources(&name, kind).map_err(|e| SweepError::Format {
            path: spec.file.clone(),
            reason: e.to_string(),
        })?;
        for (label, text) in sources {
            let digest = Sha256::digest(text.as_bytes());
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            out.insert(label.display().to_string(), hex);
        }
    }
    Ok(out)
}
