//! The `values=` argument: a value file's path, or a dict of numpy arrays named as in a value
//! file (`layers.N.q`, `layers.N.k`, `layers.N.v`, each float32 [heads, tokens, head_dim]),
//! which the reference reads in place, without a copy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use numpy::{
    PyArray3, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray3, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use spatten::reference::LayerViews;

use crate::errors::DataError;

/// What `values=` named.
pub enum ValuesArg<'py> {
    /// Synthetic values from the workload's seed.
    Synthetic,
    /// A value tensor file.
    File(PathBuf),
    /// Borrowed numpy arrays, per layer q, k, v.
    Arrays(Vec<[PyReadonlyArray3<'py, f32>; 3]>),
}

const KINDS: [&str; 3] = ["q", "k", "v"];

pub fn parse<'py>(v: Option<&Bound<'py, PyAny>>) -> PyResult<ValuesArg<'py>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(ValuesArg::Synthetic);
    };
    if let Ok(d) = v.cast::<PyDict>() {
        return arrays(d).map(ValuesArg::Arrays);
    }
    match v.extract::<PathBuf>() {
        Ok(p) => Ok(ValuesArg::File(p)),
        Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "values must be None, a value file path or a dict of numpy arrays, not {}",
            v.get_type().name()?
        ))),
    }
}

fn arrays<'py>(d: &Bound<'py, PyDict>) -> PyResult<Vec<[PyReadonlyArray3<'py, f32>; 3]>> {
    let mut by_name = BTreeMap::new();
    let mut layers = 0usize;
    for (k, a) in d.iter() {
        let name: String = k.extract()?;
        let layer = match name.split('.').collect::<Vec<_>>().as_slice() {
            ["layers", l, kind] if KINDS.contains(kind) => l.parse::<usize>().ok(),
            _ => None,
        };
        let Some(layer) = layer else {
            return Err(DataError::new_err(format!(
                "values: key {name:?} is not of the form layers.N.q, layers.N.k or layers.N.v"
            )));
        };
        layers = layers.max(layer + 1);
        by_name.insert(name, a);
    }
    if layers == 0 {
        return Err(DataError::new_err("values: the dict holds no layers"));
    }
    let mut out = Vec::with_capacity(layers);
    for l in 0..layers {
        let mut three = Vec::with_capacity(3);
        for kind in KINDS {
            let name = format!("layers.{l}.{kind}");
            let a = by_name
                .get(&name)
                .ok_or_else(|| DataError::new_err(format!("values: {name} is missing")))?;
            three.push(f32_array(&name, a)?);
        }
        let [q, k, v]: [PyReadonlyArray3<'py, f32>; 3] = three
            .try_into()
            .unwrap_or_else(|_| unreachable!("three kinds"));
        out.push([q, k, v]);
    }
    Ok(out)
}

fn f32_array<'py>(name: &str, a: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray3<'py, f32>> {
    let untyped = a.cast::<PyUntypedArray>().map_err(|_| {
        DataError::new_err(format!(
            "values: {name} is a {}, expected a numpy array",
            a.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let py = a.py();
    if !untyped.dtype().is_equiv_to(&numpy::dtype::<f32>(py)) {
        return Err(DataError::new_err(format!(
            "values: {name} has dtype {}, expected float32 (convert with .astype(numpy.float32))",
            untyped.dtype()
        )));
    }
    if untyped.ndim() != 3 {
        return Err(DataError::new_err(format!(
            "values: {name} has shape {:?}, expected rank 3 [heads, tokens, head_dim]",
            untyped.shape()
        )));
    }
    let typed = a
        .cast::<PyArray3<f32>>()
        .map_err(|e| DataError::new_err(format!("values: {name}: {e}")))?;
    typed
        .try_readonly()
        .map_err(|e| DataError::new_err(format!("values: {name}: {e}")))
}

/// Views of borrowed arrays, for the reference.
pub fn views<'a>(arrays: &'a [[PyReadonlyArray3<'_, f32>; 3]]) -> Vec<LayerViews<'a>> {
    arrays
        .iter()
        .map(|[q, k, v]| LayerViews {
            q: q.as_array(),
            k: k.as_array(),
            v: v.as_array(),
        })
        .collect()
}

/// Where a dict of arrays came from, as recorded in the trace header.
pub const ARRAYS_SOURCE: &str = "numpy arrays";
