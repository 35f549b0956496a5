//! Named tensors of a Hugging Face checkpoint: `model.safetensors`, or the shards listed by
//! `model.safetensors.index.json`. Every read checks presence, shape and finiteness and
//! widens F32, BF16 and F16 to f32 (real GPT-2 / Llama checkpoints ship in half precision),
//! so a wrong checkpoint fails with one message naming the tensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use super::error::ModelError;

/// The raw bytes of every shard of a checkpoint.
pub struct Checkpoint {
    shards: Vec<(PathBuf, Vec<u8>)>,
}

#[derive(Deserialize)]
struct Index {
    weight_map: BTreeMap<String, String>,
}

impl Checkpoint {
    /// `dir/model.safetensors`, else the shards named by `dir/model.safetensors.index.json`.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if single.is_file() {
            vec![single]
        } else if index.is_file() {
            let text = std::fs::read_to_string(&index).map_err(|error| ModelError::Io {
                path: index.clone(),
                error,
            })?;
            let parsed: Index =
                serde_json::from_str(&text).map_err(|e| ModelError::Checkpoint {
                    path: index.clone(),
                    reason: format!("not a safetensors index: {e}"),
                })?;
            let mut names: Vec<&String> = parsed.weight_map.values().collect();
            names.sort();
            names.dedup();
            let mut files = Vec::with_capacity(names.len());
            for name in names {
                // A shard is a plain file name beside the index, never a path elsewhere.
                if name.contains('/') || name.contains('\\') || name.starts_with('.') {
                    return Err(ModelError::Checkpoint {
                        path: index.clone(),
                        reason: format!("shard name `{name}` is not a plain file name"),
                    });
                }
                let path = dir.join(name);
                if !path.is_file() {
                    return Err(ModelError::MissingFile { path });
                }
                files.push(path);
            }
            files
        } else {
            return Err(ModelError::MissingFile { path: single });
        };
        let shards = files
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).map_err(|error| ModelError::Io {
                    path: path.clone(),
                    error,
                })?;
                Ok((path, bytes))
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(Self { shards })
    }

    /// Parses every shard's header; the tensors borrow the bytes.
    pub fn tensors(&self) -> Result<Tensors<'_>, ModelError> {
        let parsed = self
            .shards
            .iter()
            .map(|(path, bytes)| {
                SafeTensors::deserialize(bytes)
                    .map(|st| (path.as_path(), st))
                    .map_err(|error| ModelError::Safetensors {
                        path: path.clone(),
                        error,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Tensors { shards: parsed })
    }
}

pub struct Tensors<'a> {
    shards: Vec<(&'a Path, SafeTensors<'a>)>,
}

impl Tensors<'_> {
    /// The path to name in messages about a tensor: its shard, or the first file.
    fn path_of(&self, name: &str) -> PathBuf {
        self.shards
            .iter()
            .find(|(_, st)| st.tensor(name).is_ok())
            .or(self.shards.first())
            .map(|(p, _)| p.to_path_buf())
            .unwrap_or_default()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.shards.iter().any(|(_, st)| st.tensor(name).is_ok())
    }

    /// The values of `name`, which must have shape `expected`.
    pub fn values(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, ModelError> {
        let path = self.path_of(name);
        let view = self
            .shards
            .iter()
            .find_map(|(_, st)| st.tensor(name).ok())
            .ok_or_else(|| ModelError::MissingTensor {
                path: path.clone(),
                name: name.to_string(),
            })?;
        if view.shape() != expected {
            return Err(ModelError::TensorShape {
                path,
                name: name.to_string(),
                expected: expected.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(ModelError::TensorDtype {
                    path,
                    name: name.to_string(),
                    found: format!("{other:?}"),
                    expected: "F32, BF16 or F16",
                });
            }
        };
        if values.len() != expected.iter().product::<usize>() {
            return Err(ModelError::TensorShape {
                path,
                name: name.to_string(),
                expected: expected.to_vec(),
                found: vec![values.len()],
            });
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite {
                path,
                name: name.to_string(),
            });
        }
        Ok(values)
    }

    pub fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Array2<f32>, ModelError> {
        let v = self.values(name, &[rows, cols])?;
        Ok(Array2::from_shape_vec((rows, cols), v).expect("length checked against the shape"))
    }

    pub fn vector(&self, name: &str, len: usize) -> Result<Array1<f32>, ModelError> {
        Ok(Array1::from_vec(self.values(name, &[len])?))
    }
}
