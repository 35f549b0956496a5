//! Library structs to Python objects through their serde form (the same JSON the reports
//! hold), so a dict from the package equals the parsed file the CLI writes.

use pyo3::prelude::*;
use serde::Serialize;

pub fn to_python<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}
