//! `spatten_sim._native`: the Python face of the `spatten` library. Every function is a thin
//! call into the library (no simulation logic here); the pure-Python parts (PyTorch capture)
//! live in the `spatten_sim` package beside this crate.

mod config;
mod errors;
mod json;
mod run;
mod sweep;
mod trace;
mod values;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ConfigError", py.get_type::<errors::ConfigError>())?;
    m.add("DataError", py.get_type::<errors::DataError>())?;
    m.add("SimulationError", py.get_type::<errors::SimulationError>())?;
    m.add_class::<config::Arch>()?;
    m.add_class::<config::Workload>()?;
    m.add_class::<trace::AttentionTrace>()?;
    m.add_class::<run::RunResult>()?;
    m.add_class::<sweep::SweepResult>()?;
    m.add_function(wrap_pyfunction!(config::load_arch, m)?)?;
    m.add_function(wrap_pyfunction!(config::load_workload, m)?)?;
    m.add_function(wrap_pyfunction!(trace::reference, m)?)?;
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep, m)?)?;
    Ok(())
}
