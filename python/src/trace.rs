//! `AttentionTrace`: the contract between the reference and the cycle simulator, with its
//! columns (the trace file's, traces/FORMAT.md) as read-only numpy arrays, and `reference()`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use numpy::{PyArray1, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyDictMethods};
use safetensors::Dtype;

use spatten::experiment::{Experiment, Input};
use spatten::trace::container::{Container, RawTensor};
use spatten::trace::trace_file::{TRACE_FORMAT, decode_trace, encode_trace};
use spatten::trace::{self as lib, TraceHeader};

use crate::config;
use crate::errors::{DataError, IntoPyResult};
use crate::json;
use crate::values::{self, ValuesArg};

/// An attention trace: every decision of a run (which keys and values each head fetched,
/// LSB refetches, top-k calls and their rounds, tokens and heads kept after each layer).
///
/// ``columns`` holds it in the trace file's columnar layout (traces/FORMAT.md) as read-only
/// numpy arrays; ``AttentionTrace.from_numpy`` builds one from such columns.
#[pyclass(frozen, module = "spatten_sim")]
pub struct AttentionTrace {
    pub inner: Arc<lib::AttentionTrace>,
    columns: PyOnceLock<Py<PyDict>>,
}

impl AttentionTrace {
    pub fn new(inner: lib::AttentionTrace) -> Self {
        Self {
            inner: Arc::new(inner),
            columns: PyOnceLock::new(),
        }
    }
}

/// A column's little-endian bytes as a numpy array that owns them (no further copy).
fn column<'py>(py: Python<'py>, t: &RawTensor) -> PyResult<Bound<'py, PyAny>> {
    fn typed<'py, T: numpy::Element, const N: usize>(
        py: Python<'py>,
        data: &[u8],
        from: fn([u8; N]) -> T,
    ) -> Bound<'py, PyAny> {
        let v: Vec<T> = data
            .chunks_exact(N)
            .map(|c| from(c.try_into().expect("chunks of N")))
            .collect();
        PyArray1::from_vec(py, v).into_any()
    }
    let a = match t.dtype {
        Dtype::U8 => PyArray1::from_vec(py, t.data.clone()).into_any(),
        Dtype::U16 => typed(py, &t.data, u16::from_le_bytes),
        Dtype::U32 => typed(py, &t.data, u32::from_le_bytes),
        Dtype::U64 => typed(py, &t.data, u64::from_le_bytes),
        other => {
            return Err(DataError::new_err(format!(
                "trace column of dtype {other:?} has no numpy form here"
            )));
        }
    };
    let kw = PyDict::new(py);
    kw.set_item("write", false)?;
    a.call_method("setflags", (), Some(&kw))?;
    Ok(a)
}

/// The safetensors dtype of a numpy array and its little-endian, C-order bytes.
fn raw_tensor(name: &str, a: &Bound<'_, PyAny>) -> PyResult<RawTensor> {
    let arr = a.cast::<PyUntypedArray>().map_err(|_| {
        DataError::new_err(format!(
            "column {name} is a {}, expected a numpy array",
            a.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let descr = arr.dtype();
    let code: String = descr.getattr("str")?.extract()?;
    // numpy's dtype.str: byte order, kind, item size ("<u4", "|u1").
    let dtype = match &code[1..] {
        "u1" => Dtype::U8,
        "u2" => Dtype::U16,
        "u4" => Dtype::U32,
        "u8" => Dtype::U64,
        "i1" => Dtype::I8,
        "i2" => Dtype::I16,
        "i4" => Dtype::I32,
        "i8" => Dtype::I64,
        "f2" => Dtype::F16,
        "f4" => Dtype::F32,
        "f8" => Dtype::F64,
        "b1" => Dtype::BOOL,
        _ => {
            return Err(DataError::new_err(format!(
                "column {name} has dtype {descr}, which a trace file cannot hold"
            )));
        }
    };
    let shape = arr.shape().to_vec();
    let little = descr.call_method1("newbyteorder", ("<",))?;
    let bytes = a
        .call_method1("astype", (little,))?
        .call_method1("tobytes", ("C",))?
        .extract::<Vec<u8>>()?;
    Ok(RawTensor {
        dtype,
        shape,
        data: bytes,
    })
}

fn header_from(py: Python<'_>, header: &Bound<'_, PyAny>) -> PyResult<TraceHeader> {
    let text: String = py
        .import("json")?
        .call_method1("dumps", (header,))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| DataError::new_err(format!("trace header: {e}")))
}

#[pymethods]
impl AttentionTrace {
    /// Reads and checks a trace file (from ``spatten trace reference`` or an import).
    #[staticmethod]
    fn read(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let t = py.detach(|| lib::read_trace(&path)).py_err(py)?;
        Ok(Self::new(t))
    }

    /// Writes the trace file atomically; refuses an inconsistent trace.
    fn write(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let t = self.inner.clone();
        py.detach(|| lib::write_trace(&path, &t)).py_err(py)
    }

    /// Builds a trace from your own decisions: ``header`` is a dict with the keys of the trace
    /// header (``workload``, ``source``, ``layers``, ``heads``, ``head_dim``, ``stage``
    /// ("summarization" or "generation"), ``prompt_tokens``, ``generated_tokens``, ``seed``,
    /// and optionally ``kv_heads`` for grouped K/V heads, ``batch`` for a batch of sequences,
    /// which needs the ``head_calls.sequence`` and ``layers.sequence`` columns,
    /// ``value_topk_entries`` for a local-V engine of limited candidates, which needs the
    /// ``topk.stage_offsets`` and ``topk.stages`` columns)
    /// and ``columns`` maps every column name of the trace file to a 1-D numpy array of the
    /// dtype traces/FORMAT.md gives (``head_calls.keys`` uint16 or uint32, offsets uint64,
    /// flags uint8, ...; an existing trace's ``columns`` show them all). Traces over 65536
    /// tokens use version 3's compact index lists, with ``head_calls.key_encoding`` and the
    /// other ``*_encoding`` columns; given those, the columns are read as version 3. Every consistency
    /// rule of the file reader is checked; a violation raises DataError naming the column.
    #[staticmethod]
    fn from_numpy(
        py: Python<'_>,
        header: &Bound<'_, PyAny>,
        columns: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        let header = header_from(py, header)?;
        let mut c = Container::default();
        c.metadata.insert("format".into(), TRACE_FORMAT.into());
        // The columns say which layout they are in: the compact index lists of version 3
        // carry `*_encoding` columns; without them, the oldest version the header allows.
        let version = if columns.contains("head_calls.key_encoding")? {
            lib::attention::TRACE_FORMAT_VERSION
        } else {
            header.min_version()
        };
        c.metadata.insert("version".into(), version.to_string());
        c.metadata.insert(
            "header".into(),
            serde_json::to_string(&header).expect("a header serializes"),
        );
        for (k, v) in columns.iter() {
            let name: String = k.extract()?;
            let t = raw_tensor(&name, &v)?;
            c.tensors.insert(name, t);
        }
        let t = decode_trace(Path::new("<numpy columns>"), &c).py_err(py)?;
        Ok(Self::new(t))
    }

    /// The trace header (workload, source, shape, stage, token counts, seed) as a dict.
    #[getter]
    fn header<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json::to_python(py, &self.inner.header)
    }

    /// Every column of the trace file as a read-only numpy array, by name (built once).
    #[getter]
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = self
            .columns
            .get_or_try_init(py, || -> PyResult<Py<PyDict>> {
                let c = encode_trace(Path::new("<trace>"), &self.inner).py_err(py)?;
                let d = PyDict::new(py);
                for (name, t) in &c.tensors {
                    d.set_item(name, column(py, t)?)?;
                }
                Ok(d.unbind())
            })?;
        // A shallow copy: the arrays are shared (and read-only), the dict is the caller's.
        d.bind(py).copy()
    }

    /// One column by name, e.g. ``trace["head_calls.keys"]``.
    fn __getitem__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.columns(py)?
            .get_item(name)?
            .ok_or_else(|| PyKeyError::new_err(format!("no trace column {name:?}")))
    }

    /// Head calls (one per head processed), in execution order.
    #[getter]
    fn num_head_calls(&self) -> usize {
        self.inner.head_calls.len()
    }

    /// Quick-select top-k calls.
    #[getter]
    fn num_topk_calls(&self) -> usize {
        self.inner.topk_calls.len()
    }

    /// Layer records: one per (iteration, layer).
    #[getter]
    fn num_layer_records(&self) -> usize {
        self.inner.layers.len()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<AttentionTrace>()
            .is_ok_and(|o| *o.get().inner == *self.inner)
    }

    fn __repr__(&self) -> String {
        let h = &self.inner.header;
        format!(
            "AttentionTrace(workload={:?}, source={:?}, {} layers x {} heads, {} head calls)",
            h.workload,
            h.source,
            h.layers,
            h.heads,
            self.inner.head_calls.len()
        )
    }
}

/// Runs the bit-exact reference over values, as ``spatten trace reference`` does, and returns
/// the attention trace. ``values`` is None (synthetic values from the workload's seed), a
/// value file path, or a dict of float32 numpy arrays ``{"layers.0.q": [heads, tokens,
/// head_dim], "layers.0.k": ..., "layers.0.v": ..., "layers.1.q": ...}`` that is read in
/// place (``capture`` returns one); the workload gives the prompt length. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (workload, values=None))]
pub fn reference(
    py: Python<'_>,
    workload: &Bound<'_, PyAny>,
    values: Option<&Bound<'_, PyAny>>,
) -> PyResult<AttentionTrace> {
    let w = config::workload_arg(py, workload)?;
    let t = match values::parse(values)? {
        ValuesArg::Arrays(arrays) => {
            let views = values::views(&arrays);
            py.detach(|| {
                spatten::reference::run_workload_views(
                    &views,
                    values::ARRAYS_SOURCE,
                    &w,
                    Default::default(),
                )
            })
            .py_err(py)?
        }
        ValuesArg::File(p) => build(py, w, Input::Values(p))?,
        ValuesArg::Synthetic => build(py, w, Input::Synthetic)?,
    };
    Ok(AttentionTrace::new(t))
}

/// The trace an experiment on `input` replays, through `Experiment::build_trace` so values are
/// read and generated exactly as `spatten run` does. The arch plays no part in a trace; the
/// preset only fills the field (as the sweep evaluator does).
fn build(
    py: Python<'_>,
    w: spatten::config::WorkloadConfig,
    input: Input,
) -> PyResult<lib::AttentionTrace> {
    let e = Experiment {
        name: w.name.clone(),
        arch: spatten::config::load_arch("spatten").py_err(py)?,
        workload: Some(w),
        input,
        dram: spatten::experiment::DramKind::Native,
        timeline: false,
    };
    py.detach(|| e.build_trace(&mut |_| {})).py_err(py)
}
