//! `run()`: one experiment end to end, as `spatten run` does, returning a `Result`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use spatten::experiment::{self, DramKind, Experiment, ExperimentResult, Input};
use spatten::report::run_report;

use crate::config;
use crate::errors::{DataError, IntoPyResult, SimulationError};
use crate::json;
use crate::trace::AttentionTrace;
use crate::values::{self, ValuesArg};

/// The outcome of ``run``: statistics, energy, baselines and the trace replayed.
#[pyclass(frozen, name = "Result", module = "spatten_sim")]
pub struct RunResult {
    inner: ExperimentResult,
    /// The trace as a Python object, made on first access.
    trace: PyOnceLock<Py<AttentionTrace>>,
}

#[pymethods]
impl RunResult {
    /// The run's name (``<arch>-<workload>``, as the CLI names its report).
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// Everything ``stats.json`` of the report holds, as a dict: provenance, cycles, seconds,
    /// throughput, per-module activity, DRAM traffic, energy, area.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_python(py, &run_report::stats_json(&self.inner))
    }

    /// Energy: total, on chip, DRAM, average power, per module and by cause (joules, watts).
    #[getter]
    fn energy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_python(py, &self.inner.energy)
    }

    /// Area per unit (mm2).
    #[getter]
    fn area<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_python(py, &self.inner.area)
    }

    /// One dict per baseline (``baselines.csv`` of the report): device, kind, provenance,
    /// latency_s, energy_j, speedup, energy_saving.
    #[getter]
    fn baselines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_python(py, &run_report::comparisons(&self.inner))
    }

    /// The attention trace the simulator replayed.
    #[getter]
    fn trace(&self, py: Python<'_>) -> PyResult<Py<AttentionTrace>> {
        let t = self.trace.get_or_try_init(py, || {
            Py::new(py, AttentionTrace::new(self.inner.trace.clone()))
        })?;
        Ok(t.clone_ref(py))
    }

    /// The statistics as a one-row pandas DataFrame, nested keys joined with dots
    /// (``pandas.json_normalize``); concatenate several runs' frames into a table.
    /// Needs pandas.
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pandas = py.import("pandas").map_err(|e| {
            pyo3::exceptions::PyImportError::new_err(format!(
                "Result.to_pandas needs pandas (pip install pandas): {e}"
            ))
        })?;
        pandas.call_method1("json_normalize", (self.stats(py)?,))
    }

    /// Writes the full report (summary.md, stats.json, CSVs, figures, timeline.json when
    /// kept) into ``directory``, replacing an older report there; returns the files written.
    /// Releases the GIL.
    fn write_report(&self, py: Python<'_>, directory: PathBuf) -> PyResult<Vec<PathBuf>> {
        py.detach(|| run_report::write(&self.inner, &directory))
            .py_err(py)
    }

    fn __repr__(&self) -> String {
        let s = &self.inner.stats;
        format!(
            "Result({:?}: {} cycles ({:.3} ms), {:.0} effective GOP/s, {:.2} MB from DRAM, {:.3} mJ)",
            self.inner.name,
            s.cycles,
            s.seconds * 1e3,
            s.effective_gops,
            s.dram.bytes_read as f64 / 1e6,
            self.inner.energy.total_j * 1e3
        )
    }
}

/// One experiment end to end, exactly as ``spatten run`` does it: values -> reference ->
/// attention trace -> cycle simulation -> energy and baselines; its ``stats`` equal the
/// report's stats.json for the same inputs.
///
/// - ``arch``: an ``Arch``, or a preset name or TOML path.
/// - ``workload``: a ``Workload``, preset name or path (needed unless ``trace`` is given).
/// - ``values``: None (synthetic values from the workload's seed), a value file path, or a
///   dict of float32 numpy arrays ``{"layers.N.q" | "layers.N.k" | "layers.N.v": [heads,
///   tokens, head_dim]}`` read in place.
/// - ``trace``: an ``AttentionTrace`` or a trace file path to replay instead of running the
///   reference (then ``values`` must be None).
/// - ``dram``: "native" (command-level HBM model), "simple" or "dramsim3".
/// - ``timeline``: keep per-module busy intervals (``write_report`` writes timeline.json).
/// - ``measured_baselines``: baseline files (``spatten baseline measure-cpu``) to compare with.
///
/// - ``progress``: called with each phase's name ("running the reference model", "simulating
///   cycles", ...) as the run enters it, as the CLI's spinner shows them.
///
/// The simulation runs with the GIL released. Raises ConfigError, DataError or
/// SimulationError with the CLI's message.
#[pyfunction]
#[pyo3(signature = (arch=None, workload=None, values=None, trace=None, dram="native", timeline=false, measured_baselines=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn run(
    py: Python<'_>,
    arch: Option<&Bound<'_, PyAny>>,
    workload: Option<&Bound<'_, PyAny>>,
    values: Option<&Bound<'_, PyAny>>,
    trace: Option<&Bound<'_, PyAny>>,
    dram: &str,
    timeline: bool,
    measured_baselines: Option<Vec<PathBuf>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<RunResult> {
    let arch = match arch.filter(|a| !a.is_none()) {
        Some(a) => config::arch_arg(py, a)?,
        None => spatten::config::load_arch("spatten").py_err(py)?,
    };
    let workload = workload
        .filter(|w| !w.is_none())
        .map(|w| config::workload_arg(py, w))
        .transpose()?;
    let dram: DramKind = dram
        .parse()
        .map_err(|e: spatten::dram::backend::DramError| SimulationError::new_err(e.to_string()))?;
    let values = values::parse(values)?;
    let trace = trace.filter(|t| !t.is_none());
    if trace.is_some() && !matches!(values, ValuesArg::Synthetic) {
        return Err(DataError::new_err(
            "give values or trace, not both (a trace already holds the reference's decisions)",
        ));
    }
    if workload.is_none() && trace.is_none() {
        return Err(DataError::new_err(
            "give workload=W (a Workload, preset name or path) or trace=T",
        ));
    }
    let mut report = Progress::new(py, progress);
    let mut phase = |name: &str| report.phase(name);
    let in_memory = trace
        .and_then(|t| t.cast::<AttentionTrace>().ok())
        .map(|t| t.get().inner.clone());
    let mut result = match (in_memory, trace, values) {
        (Some(t), _, _) => {
            let w = workload.unwrap_or_else(|| experiment::dense_workload_for(&t.header));
            let name = format!("{}-{}", arch.name, w.name);
            let input = format!("in-memory trace ({})", t.header.source);
            py.detach(|| {
                experiment::evaluate(
                    &name,
                    &arch,
                    &w,
                    (*t).clone(),
                    &input,
                    dram,
                    timeline,
                    &mut phase,
                )
            })
            .py_err(py)?
        }
        (None, Some(t), _) => {
            let path: PathBuf = t.extract()?;
            let label = match &workload {
                Some(w) => w.name.clone(),
                None => path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            let e = Experiment {
                name: format!("{}-{label}", arch.name),
                arch,
                workload,
                input: Input::Trace(path),
                dram,
                timeline,
            };
            py.detach(|| e.run_with(&mut phase)).py_err(py)?
        }
        (None, None, ValuesArg::Arrays(arrays)) => {
            let w = workload.expect("checked above");
            let views = values::views(&arrays);
            let name = format!("{}-{}", arch.name, w.name);
            py.detach(|| -> anyhow::Result<ExperimentResult> {
                phase("running the reference model");
                let design = spatten::config::tiles::reference_design(&arch, w.model.head_dim);
                let t = spatten::reference::run_workload_views(
                    &views,
                    values::ARRAYS_SOURCE,
                    &w,
                    design,
                )?;
                let input = values::ARRAYS_SOURCE;
                experiment::evaluate(&name, &arch, &w, t, input, dram, timeline, &mut phase)
            })
            .py_err(py)?
        }
        (None, None, v) => {
            let w = workload.expect("checked above");
            let input = match v {
                ValuesArg::File(p) => Input::Values(p),
                _ => Input::Synthetic,
            };
            let e = Experiment {
                name: format!("{}-{}", arch.name, w.name),
                arch,
                workload: Some(w),
                input,
                dram,
                timeline,
            };
            py.detach(|| e.run_with(&mut phase)).py_err(py)?
        }
    };
    report.finish()?;
    // A measured file that is unreadable or timed another shape is bad input.
    experiment::add_measured_baselines(&mut result, &measured_baselines.unwrap_or_default())
        .map_err(|e| DataError::new_err(format!("{e:#}")))?;
    Ok(RunResult {
        inner: result,
        trace: PyOnceLock::new(),
    })
}

/// Forwards phase names to a Python callback from inside a detached run; the callback's first
/// exception is kept (later phases no longer call it) and raised when the run is over.
struct Progress {
    callback: Option<Py<PyAny>>,
    error: Option<PyErr>,
}

impl Progress {
    fn new(py: Python<'_>, callback: Option<Py<PyAny>>) -> Self {
        Self {
            callback: callback.filter(|c| !c.is_none(py)),
            error: None,
        }
    }

    fn phase(&mut self, name: &str) {
        if self.error.is_some() {
            return;
        }
        if let Some(cb) = &self.callback {
            self.error = Python::attach(|py| cb.call1(py, (name,)).err());
        }
    }

    fn finish(self) -> PyResult<()> {
        self.error.map_or(Ok(()), Err)
    }
}
