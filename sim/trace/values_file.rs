//! Value tensor files: per layer Q, K and V as safetensors (layout in traces/FORMAT.md).

use std::path::Path;

use ndarray::Array3;
use safetensors::Dtype;

use super::container::{self, Container, RawTensor};
use super::error::TraceError;
use super::values::{LayerValues, ValueMeta, ValueTensors};

pub const VALUES_FORMAT: &str = "spatten-values";
pub const VALUES_FORMAT_VERSION: &str = "1";

const KINDS: [&str; 3] = ["q", "k", "v"];

fn tensor_name(layer: usize, kind: &str) -> String {
    format!("layers.{layer}.{kind}")
}

/// Why a K/V shape cannot go with a Q shape of [heads, tokens, head_dim]: K and V must have
/// the same tokens and head_dim and a number of heads that divides Q's.
fn kv_shape_error(q: &[usize], kv: &[usize]) -> Option<String> {
    let fits = kv.len() == 3
        && q.len() == 3
        && kv[1..] == q[1..]
        && kv[0] >= 1
        && kv[0] <= q[0]
        && q[0].is_multiple_of(kv[0]);
    (!fits).then(|| {
        format!(
            "has shape {kv:?}, but with Q of shape {q:?} K and V need [h, {}, {}] with h dividing {} (grouped K/V heads)",
            q.get(1).copied().unwrap_or(0),
            q.get(2).copied().unwrap_or(0),
            q.first().copied().unwrap_or(0)
        )
    })
}

/// Builds the container of a value set; checks the shapes it is about to promise.
pub fn encode_values(path: &Path, values: &ValueTensors) -> Result<Container, TraceError> {
    let bad = |reason: String| TraceError::Unwritable {
        path: path.to_path_buf(),
        reason,
    };
    if values.layers.is_empty() {
        return Err(bad("the value set has no layers".into()));
    }
    let shape = values.layers[0].q.shape().to_vec();
    if shape.contains(&0) {
        return Err(bad(format!("layers.0.q has an empty dimension: {shape:?}")));
    }
    if values.meta.prompt_tokens as usize > shape[1] {
        return Err(bad(format!(
            "prompt_tokens {} exceeds the {} tokens of the tensors",
            values.meta.prompt_tokens, shape[1]
        )));
    }
    let kv_shape = values.layers[0].k.shape().to_vec();
    if let Some(reason) = kv_shape_error(&shape, &kv_shape) {
        return Err(bad(format!("layers.0.k {reason}")));
    }
    let mut c = Container::default();
    let m = &values.meta;
    for (k, v) in [
        ("format", VALUES_FORMAT.to_string()),
        ("version", VALUES_FORMAT_VERSION.to_string()),
        ("model", m.model.clone()),
        ("source", m.source.clone()),
        ("seed", m.seed.to_string()),
        ("prompt_tokens", m.prompt_tokens.to_string()),
        ("causal", m.causal.to_string()),
    ] {
        c.metadata.insert(k.to_string(), v);
    }
    for (l, layer) in values.layers.iter().enumerate() {
        for (kind, a) in KINDS.iter().zip([&layer.q, &layer.k, &layer.v]) {
            let name = tensor_name(l, kind);
            let (want, first) = match *kind {
                "q" => (&shape, "layers.0.q"),
                _ => (&kv_shape, "layers.0.k"),
            };
            if a.shape() != want.as_slice() {
                return Err(bad(format!(
                    "{name} has shape {:?} but {first} has {want:?}",
                    a.shape()
                )));
            }
            if let Some(i) = a.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "{name} holds a non-finite value at flat index {i}"
                )));
            }
            // `iter` walks in logical (row-major) order whatever the memory layout.
            c.tensors
                .insert(name, RawTensor::f32s(want.clone(), a.iter().copied()));
        }
    }
    Ok(c)
}

/// Writes a value file atomically (temporary file + rename).
pub fn write_values(path: &Path, values: &ValueTensors) -> Result<(), TraceError> {
    container::write(path, &encode_values(path, values)?)
}

/// Reads and checks a value file: format and version, metadata, names, dtypes and shapes.
pub fn read_values(path: &Path) -> Result<ValueTensors, TraceError> {
    decode_values(path, &container::read(path)?)
}

fn parse_meta<T: std::str::FromStr>(
    c: &Container,
    path: &Path,
    key: &str,
) -> Result<T, TraceError> {
    let text = c.meta(path, key)?;
    text.parse().map_err(|_| TraceError::Metadata {
        path: path.to_path_buf(),
        key: key.into(),
        reason: format!(
            "has value {text:?}, which does not parse as {}",
            std::any::type_name::<T>()
        ),
    })
}

pub fn decode_values(path: &Path, c: &Container) -> Result<ValueTensors, TraceError> {
    let meta_err = |key: &str, reason: String| TraceError::Metadata {
        path: path.to_path_buf(),
        key: key.into(),
        reason,
    };
    let format = c.meta(path, "format")?;
    if format != VALUES_FORMAT {
        return Err(meta_err(
            "format",
            format!("is {format:?}, expected {VALUES_FORMAT:?}"),
        ));
    }
    let version = c.meta(path, "version")?;
    if version != VALUES_FORMAT_VERSION {
        return Err(meta_err(
            "version",
            format!("is {version:?}; this reader understands version {VALUES_FORMAT_VERSION}"),
        ));
    }
    let meta = ValueMeta {
        model: c.meta(path, "model")?.to_string(),
        source: c.meta(path, "source")?.to_string(),
        seed: parse_meta(c, path, "seed")?,
        prompt_tokens: parse_meta(c, path, "prompt_tokens")?,
        causal: parse_meta(c, path, "causal")?,
    };

    let tensor_err = |tensor: &str, reason: String| TraceError::Tensor {
        path: path.to_path_buf(),
        tensor: tensor.into(),
        reason,
    };
    // Tensors outside `layers.` are reserved for extensions and ignored.
    let mut layer_count = 0usize;
    for name in c.tensors.keys().filter(|n| n.starts_with("layers.")) {
        let parts: Vec<&str> = name.split('.').collect();
        let layer = match parts.as_slice() {
            ["layers", l, kind] if KINDS.contains(kind) => l.parse::<usize>().ok(),
            _ => None,
        };
        let Some(layer) = layer else {
            return Err(tensor_err(
                name,
                "is not of the form layers.N.{q,k,v}".into(),
            ));
        };
        layer_count = layer_count.max(layer + 1);
    }
    if layer_count == 0 {
        return Err(tensor_err(
            "layers.0.q",
            "is missing (the file holds no layers)".into(),
        ));
    }

    // Q tensors share one shape, K and V another that differs at most in heads (fewer K/V
    // heads under grouped-query attention).
    let mut q_shape: Option<(String, Vec<usize>)> = None;
    let mut kv_shape: Option<(String, Vec<usize>)> = None;
    let mut layers = Vec::with_capacity(layer_count);
    for l in 0..layer_count {
        let mut arrays = Vec::with_capacity(3);
        for kind in KINDS {
            let name = tensor_name(l, kind);
            let t = c.tensor(path, &name)?;
            if t.dtype != Dtype::F32 {
                return Err(tensor_err(
                    &name,
                    format!("has dtype {:?}, expected F32", t.dtype),
                ));
            }
            if t.shape.len() != 3 {
                return Err(tensor_err(
                    &name,
                    format!(
                        "has shape {:?}, expected rank 3 [heads, tokens, head_dim]",
                        t.shape
                    ),
                ));
            }
            if t.shape.contains(&0) {
                return Err(tensor_err(
                    &name,
                    format!("has an empty dimension: {:?}", t.shape),
                ));
            }
            let shape = if kind == "q" {
                &mut q_shape
            } else {
                &mut kv_shape
            };
            match shape {
                None => *shape = Some((name.clone(), t.shape.clone())),
                Some((first, s)) if *s != t.shape => {
                    return Err(tensor_err(
                        &name,
                        format!("has shape {:?} but {first} has {s:?}", t.shape),
                    ));
                }
                _ => {}
            }
            let data: Vec<f32> = t
                .data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            if let Some(i) = data.iter().position(|x| !x.is_finite()) {
                return Err(tensor_err(
                    &name,
                    format!("holds a non-finite value at flat index {i}"),
                ));
            }
            let dims = (t.shape[0], t.shape[1], t.shape[2]);
            let a = Array3::from_shape_vec(dims, data)
                .map_err(|e| tensor_err(&name, format!("cannot be shaped: {e}")))?;
            arrays.push(a);
        }
        if let (0, Some((_, q)), Some((name, kv))) = (l, &q_shape, &kv_shape)
            && let Some(reason) = kv_shape_error(q, kv)
        {
            return Err(tensor_err(name, reason));
        }
        let v = arrays.pop().unwrap();
        let k = arrays.pop().unwrap();
        let q = arrays.pop().unwrap();
        layers.push(LayerValues { q, k, v });
    }
    let tokens = layers[0].q.shape()[1];
    if meta.prompt_tokens as usize > tokens {
        return Err(meta_err(
            "prompt_tokens",
            format!(
                "is {} but the tensors hold only {tokens} tokens",
                meta.prompt_tokens
            ),
        ));
    }
    Ok(ValueTensors { meta, layers })
}
