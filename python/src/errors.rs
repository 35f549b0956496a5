//! The package's exceptions and the mapping of library errors onto them. Messages are the
//! CLI's (`{error:#}`, what `spatten` prints after `error: `).

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use spatten::config::ConfigError as LibConfigError;
use spatten::reference::ReferenceError;
use spatten::trace::TraceError;

pyo3::create_exception!(
    spatten_sim,
    ConfigError,
    PyValueError,
    "An architecture, workload or sweep configuration is invalid.\n\n\
     Attributes: ``file`` (str), ``line`` (int or None), ``key`` (dotted key or None) and \
     ``reason`` (str); ``str(error)`` is the CLI's message."
);
pyo3::create_exception!(
    spatten_sim,
    DataError,
    PyValueError,
    "Value tensors or an attention trace are unusable: an unreadable or inconsistent file, \
     arrays of the wrong dtype or shape, or values that do not fit the workload."
);
pyo3::create_exception!(
    spatten_sim,
    SimulationError,
    PyRuntimeError,
    "The simulation itself failed (for example a stall caught by the watchdog, or a DRAM \
     back-end this build lacks)."
);

/// A `ConfigError` exception carrying the library error's fields.
pub fn config_error(py: Python<'_>, e: &LibConfigError) -> PyErr {
    let err = ConfigError::new_err(e.to_string());
    let value = err.value(py);
    let set = || -> PyResult<()> {
        value.setattr("file", e.file.display().to_string())?;
        value.setattr("line", e.line)?;
        value.setattr("key", e.key.clone())?;
        value.setattr("reason", e.reason.clone())?;
        Ok(())
    };
    match set() {
        Ok(()) => err,
        Err(setattr_failed) => setattr_failed,
    }
}

/// Maps an error of a whole pipeline run onto the exception for its root cause.
pub fn from_anyhow(py: Python<'_>, e: anyhow::Error) -> PyErr {
    if let Some(c) = e.chain().find_map(|c| c.downcast_ref::<LibConfigError>()) {
        let err = config_error(py, c);
        // The full chain (with the context the run added) is the message, as in the CLI.
        return match err.value(py).setattr("args", (format!("{e:#}"),)) {
            Ok(()) => err,
            Err(other) => other,
        };
    }
    let data = e.chain().any(|c| {
        c.downcast_ref::<TraceError>().is_some() || c.downcast_ref::<ReferenceError>().is_some()
    });
    if data {
        DataError::new_err(format!("{e:#}"))
    } else {
        SimulationError::new_err(format!("{e:#}"))
    }
}

/// Converts library results in `?` position.
pub trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, LibConfigError> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| config_error(py, &e))
    }
}

impl<T> IntoPyResult<T> for Result<T, TraceError> {
    fn py_err(self, _py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| DataError::new_err(e.to_string()))
    }
}

impl<T> IntoPyResult<T> for Result<T, ReferenceError> {
    fn py_err(self, _py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| DataError::new_err(e.to_string()))
    }
}

impl<T> IntoPyResult<T> for anyhow::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| from_anyhow(py, e))
    }
}
