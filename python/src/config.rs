//! `load_arch`, `load_workload` and the `Arch` / `Workload` objects they return.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use spatten::config::{self, ArchConfig, ConfigKind, WorkloadConfig};

use crate::errors::IntoPyResult;
use crate::json;

/// A resolved, validated architecture (design point).
#[pyclass(frozen, module = "spatten_sim")]
pub struct Arch {
    pub inner: ArchConfig,
}

/// A resolved, validated workload (model shape, stage, pruning, quantization, seed).
#[pyclass(frozen, module = "spatten_sim")]
pub struct Workload {
    pub inner: WorkloadConfig,
}

#[pymethods]
impl Arch {
    /// The architecture's name (`name` in its TOML).
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The short configuration hash recorded in every report.
    #[getter]
    fn hash(&self) -> String {
        config::config_hash(&self.inner)
    }

    /// The resolved configuration as TOML (what `spatten config show` prints).
    fn to_toml(&self) -> String {
        config::to_toml(&self.inner)
    }

    /// The resolved configuration as nested dicts.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_python(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!("Arch({:?}, hash={})", self.inner.name, self.hash())
    }
}

#[pymethods]
impl Workload {
    /// The workload's name (`name` in its TOML).
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The short configuration hash recorded in every report.
    #[getter]
    fn hash(&self) -> String {
        config::config_hash(&self.inner)
    }

    /// The workload's seed (synthetic values and modelled top-k rounds).
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Tokens at the end of the run: prompt plus generated tokens.
    #[getter]
    fn final_tokens(&self) -> u32 {
        self.inner.final_tokens()
    }

    /// The resolved configuration as TOML (what `spatten config show` prints).
    fn to_toml(&self) -> String {
        config::to_toml(&self.inner)
    }

    /// The resolved configuration as nested dicts.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_python(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!("Workload({:?}, hash={})", self.inner.name, self.hash())
    }
}

/// A Python value as the TOML value a dotted override sets.
fn toml_value(v: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    // bool before int: Python's True is an int too.
    if v.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(toml::Value::Integer(v.extract()?));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(v.extract()?));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items: PyResult<Vec<_>> = v.try_iter()?.map(|x| toml_value(&x?)).collect();
        return Ok(toml::Value::Array(items?));
    }
    if let Ok(d) = v.cast::<PyDict>() {
        let mut t = toml::Table::new();
        for (k, x) in d.iter() {
            t.insert(k.extract()?, toml_value(&x)?);
        }
        return Ok(toml::Value::Table(t));
    }
    // numpy scalars: integers through __index__, then anything with __float__.
    if let Ok(i) = v.extract::<i64>() {
        return Ok(toml::Value::Integer(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(toml::Value::Float(f));
    }
    Err(PyTypeError::new_err(format!(
        "override value {} of type {} has no TOML form (use bool, int, float, str, list or dict)",
        v.repr()?,
        v.get_type().name()?
    )))
}

/// `key=value` pairs as dotted overrides; `__` in a keyword stands for a dot.
fn parse_overrides(kw: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, toml::Value)>> {
    let mut out = Vec::new();
    if let Some(kw) = kw {
        for (k, v) in kw.iter() {
            let key: String = k.extract()?;
            out.push((key.replace("__", "."), toml_value(&v)?));
        }
    }
    Ok(out)
}

fn spec_text(spec: &Bound<'_, PyAny>) -> PyResult<String> {
    // A str, or an os.PathLike (pathlib.Path).
    if let Ok(s) = spec.extract::<String>() {
        return Ok(s);
    }
    let p: std::path::PathBuf = spec.extract()?;
    Ok(p.to_string_lossy().into_owned())
}

/// Loads an architecture by preset name (``"spatten"``, ``"spatten-1-8"``) or TOML path,
/// applying ``base`` and validating, as ``spatten run --arch`` does. Keyword arguments set
/// dotted keys before validation, as a sweep point does:
/// ``load_arch("spatten", **{"hbm.channels": 4})`` or ``load_arch("spatten", qk__multipliers=256)``.
///
/// Raises ConfigError (a ValueError) naming the file, key and reason.
#[pyfunction]
#[pyo3(signature = (name_or_path, **overrides))]
pub fn load_arch(
    py: Python<'_>,
    name_or_path: &Bound<'_, PyAny>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Arch> {
    let spec = spec_text(name_or_path)?;
    let o = parse_overrides(overrides)?;
    let inner = if o.is_empty() {
        config::load_arch(&spec)
    } else {
        config::load_with_overrides(&spec, ConfigKind::Arch, &o)
    }
    .py_err(py)?;
    Ok(Arch { inner })
}

/// Loads a workload by preset name (``"bert-base"``, ``"gpt2-small"``, ``"minilm"``) or TOML
/// path, applying ``base`` and validating, as ``spatten run --workload`` does. Keyword
/// arguments set dotted keys before validation: ``load_workload("bert-base",
/// **{"token_pruning.average_ratio": 0.5})`` or ``token_pruning__average_ratio=0.5``.
///
/// Raises ConfigError (a ValueError) naming the file, key and reason.
#[pyfunction]
#[pyo3(signature = (name_or_path, **overrides))]
pub fn load_workload(
    py: Python<'_>,
    name_or_path: &Bound<'_, PyAny>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Workload> {
    let spec = spec_text(name_or_path)?;
    let o = parse_overrides(overrides)?;
    let inner = if o.is_empty() {
        config::load_workload(&spec)
    } else {
        config::load_with_overrides(&spec, ConfigKind::Workload, &o)
    }
    .py_err(py)?;
    Ok(Workload { inner })
}

/// An `Arch`, or a preset name / path loaded as one.
pub fn arch_arg(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<ArchConfig> {
    if let Ok(a) = v.cast::<Arch>() {
        return Ok(a.get().inner.clone());
    }
    Ok(load_arch(py, v, None)?.inner)
}

/// A `Workload`, or a preset name / path loaded as one.
pub fn workload_arg(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<WorkloadConfig> {
    if let Ok(w) = v.cast::<Workload>() {
        return Ok(w.get().inner.clone());
    }
    Ok(load_workload(py, v, None)?.inner)
}
