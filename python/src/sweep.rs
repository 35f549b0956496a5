//! `sweep()`: a design-space sweep as `spatten sweep` runs it, with its rows returned.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use spatten::experiment::DramKind;
use spatten::sweep::evaluate::PipelineEvaluator;
use spatten::sweep::{SweepOptions, SweepSpec, parse_shard, results, runner};

use crate::errors::{IntoPyResult, SimulationError};

/// The rows of a finished sweep and how its points went.
#[pyclass(frozen, module = "spatten_sim")]
pub struct SweepResult {
    /// Column names of results.csv: point, workload, one per axis, status, detail, metrics.
    #[pyo3(get)]
    columns: Vec<String>,
    /// One dict per point, sorted by point id; numbers as int or float, empty cells as None.
    #[pyo3(get)]
    rows: Py<PyAny>,
    /// Counts: points_total, points_in_shard, already_done, ran, ok, invalid, skipped, failed;
    /// and seconds.
    #[pyo3(get)]
    summary: Py<PyAny>,
    /// The directory holding results.csv and manifest.json.
    #[pyo3(get)]
    out: PathBuf,
}

#[pymethods]
impl SweepResult {
    /// The rows as a pandas DataFrame (needs pandas).
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pandas = py.import("pandas").map_err(|e| {
            pyo3::exceptions::PyImportError::new_err(format!(
                "SweepResult.to_pandas needs pandas (pip install pandas): {e}"
            ))
        })?;
        let kw = PyDict::new(py);
        kw.set_item("columns", self.columns.clone())?;
        pandas.call_method("DataFrame", (self.rows.bind(py),), Some(&kw))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.rows.bind(py).len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "SweepResult({} rows, out={:?})",
            self.rows.bind(py).len()?,
            self.out.display().to_string()
        ))
    }
}

/// A results.csv cell as Python: int, float, None for an empty cell, else the text.
fn cell<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    if text.is_empty() {
        return Ok(py.None().into_bound(py));
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i.into_pyobject(py)?.into_any());
    }
    if let Ok(f) = text.parse::<f64>() {
        return Ok(f.into_pyobject(py)?.into_any());
    }
    Ok(text.into_pyobject(py)?.into_any())
}

/// Runs the sweep spec (TOML) with `jobs` worker threads (default: all cores), appending one
/// row per finished point to ``out/results.csv`` (default ``reports/sweep-<name>``, as the CLI);
/// ``resume=True`` skips points already there, ``shard=(k, n)`` runs points whose id % n == k.
/// ``progress(done, total)`` is called after each point, from a worker thread. The sweep runs
/// with the GIL released. Invalid points are rows with status "invalid", not errors.
#[pyfunction]
#[pyo3(signature = (spec, jobs=None, out=None, resume=false, shard=None, dram="native", progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    py: Python<'_>,
    spec: PathBuf,
    jobs: Option<usize>,
    out: Option<PathBuf>,
    resume: bool,
    shard: Option<(usize, usize)>,
    dram: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<SweepResult> {
    let spec = SweepSpec::load(&spec).py_err(py)?;
    if let Some((k, n)) = shard {
        parse_shard(&format!("{k}/{n}")).map_err(SimulationError::new_err)?;
    }
    let dram: DramKind = dram
        .parse()
        .map_err(|e: spatten::dram::backend::DramError| SimulationError::new_err(e.to_string()))?;
    let out = out.unwrap_or_else(|| PathBuf::from("reports").join(format!("sweep-{}", spec.name)));
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = SweepOptions {
        out: out.clone(),
        jobs,
        resume,
        shard,
        progress: false,
        max_points: SweepOptions::DEFAULT_MAX_POINTS,
        force: false,
    };
    let evaluator = PipelineEvaluator::new(dram);
    // The first exception the callback raised; later points no longer call it.
    let callback_error: Mutex<Option<PyErr>> = Mutex::new(None);
    let on_point = |done: usize, total: usize| {
        let Some(cb) = &progress else { return };
        Python::attach(|py| {
            let mut err = callback_error.lock().expect("no panics under the lock");
            if err.is_none()
                && let Err(e) = cb.call1(py, (done, total))
            {
                *err = Some(e);
            }
        });
    };
    let summary = py
        .detach(|| runner::run_sweep_with(&spec, &evaluator, &options, &on_point))
        .map_err(|e| SimulationError::new_err(e.to_string()))?;
    if let Some(e) = callback_error
        .into_inner()
        .expect("no panics under the lock")
    {
        return Err(e);
    }
    let columns = runner::columns(&spec, &evaluator);
    let results_path = out.join(results::RESULTS_FILE);
    let rows = results::read_rows(&results_path, &columns)
        .map_err(|e| SimulationError::new_err(e.to_string()))?;
    let list = pyo3::types::PyList::empty(py);
    for fields in rows.values() {
        let d = PyDict::new(py);
        for (c, f) in columns.iter().zip(fields) {
            d.set_item(c, cell(py, f)?)?;
        }
        list.append(d)?;
    }
    let s = PyDict::new(py);
    s.set_item("points_total", summary.points_total)?;
    s.set_item("points_in_shard", summary.points_in_shard)?;
    s.set_item("already_done", summary.already_done)?;
    s.set_item("ran", summary.ran)?;
    s.set_item("ok", summary.ok)?;
    s.set_item("invalid", summary.invalid)?;
    s.set_item("skipped", summary.skipped)?;
    s.set_item("failed", summary.failed)?;
    s.set_item("seconds", summary.seconds)?;
    Ok(SweepResult {
        columns,
        rows: list.into_any().unbind(),
        summary: s.into_any().unbind(),
        out,
    })
}
