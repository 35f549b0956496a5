//! The safetensors container shared by value and trace files.
//!
//! Writing is our own (the format is 8 bytes of header length, a JSON header, then raw
//! little-endian data) so that the header's key order, and hence the file's bytes, are
//! deterministic; the `safetensors` crate's writer stores metadata from a `HashMap`.
//! Reading goes through the `safetensors` crate, which validates offsets and lengths.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::error::TraceError;

/// One tensor's raw little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl RawTensor {
    pub fn u32s(values: &[u32]) -> Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: Dtype::U32,
            shape: vec![values.len()],
            data,
        }
    }

    pub fn u16s(values: &[u16]) -> Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: Dtype::U16,
            shape: vec![values.len()],
            data,
        }
    }

    pub fn u64s(values: &[u64]) -> Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: Dtype::U64,
            shape: vec![values.len()],
            data,
        }
    }

    pub fn u8s(values: &[u8]) -> Self {
        Self {
            dtype: Dtype::U8,
            shape: vec![values.len()],
            data: values.to_vec(),
        }
    }

    pub fn f32s(shape: Vec<usize>, values: impl Iterator<Item = f32>) -> Self {
        let data = values.flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: Dtype::F32,
            shape,
            data,
        }
    }
}

/// A whole container: string metadata and named tensors, both in sorted order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Container {
    pub metadata: BTreeMap<String, String>,
    pub tensors: BTreeMap<String, RawTensor>,
}

fn dtype_name(d: Dtype) -> String {
    format!("{d:?}")
}

/// The 8-byte length and the JSON header (sorted keys, padded to 8 bytes) of `c`.
fn header_bytes(c: &Container) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if !c.metadata.is_empty() {
        let meta: serde_json::Map<String, serde_json::Value> = c
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    }
    let mut offset = 0usize;
    for (name, t) in &c.tensors {
        let end = offset + t.data.len();
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": dtype_name(t.dtype),
                "shape": t.shape,
                "data_offsets": [offset, end],
            }),
        );
        offset = end;
    }
    // serde_json's Map is a BTreeMap without the preserve_order feature: sorted keys.
    let mut json = serde_json::to_vec(&serde_json::Value::Object(header))
        .expect("a JSON map of strings and numbers always serializes");
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + json.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out
}

/// Serializes to safetensors bytes: tensors in name order.
pub fn encode(c: &Container) -> Vec<u8> {
    let mut out = header_bytes(c);
    for t in c.tensors.values() {
        out.extend_from_slice(&t.data);
    }
    out
}

/// Writes through a temporary file next to `path`, renamed into place once complete, so a
/// reader never sees a partial file and a failed write leaves nothing behind.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), TraceError> {
    let io = |action: &'static str| {
        move |error| TraceError::Io {
            path: path.to_path_buf(),
            action,
            error,
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| TraceError::Unwritable {
        path: path.to_path_buf(),
        reason: "the output path names no file".into(),
    })?;
    // Process id + counter: concurrent writers, in this process or another, never share one.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{n}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let f = std::fs::File::create(&tmp).map_err(io("cannot create temporary file"))?;
        let mut w = std::io::BufWriter::new(f);
        fill(&mut w).map_err(io("cannot write"))?;
        let f = w
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(io("cannot write"))?;
        f.sync_all().map_err(io("cannot flush"))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io("cannot move temporary file into place"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TraceError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes a container atomically, streaming the tensors (no second in-memory copy).
pub fn write(path: &Path, c: &Container) -> Result<(), TraceError> {
    write_atomic_with(path, |w| {
        w.write_all(&header_bytes(c))?;
        for t in c.tensors.values() {
            w.write_all(&t.data)?;
        }
        Ok(())
    })
}

/// Parses safetensors bytes (`path` only labels errors).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Container, TraceError> {
    // A safetensors file is an 8-byte header length and a JSON object; anything else (a text
    // file, a CSV) would otherwise surface as a puzzling "HeaderTooLarge".
    if bytes.len() >= 9 && bytes[8] != b'{' {
        return Err(TraceError::Container {
            path: path.to_path_buf(),
            reason: "not a safetensors file (no JSON header after the 8-byte length); value \
                     files and traces are safetensors containers (traces/FORMAT.md)"
                .into(),
        });
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| TraceError::Container {
        path: path.to_path_buf(),
        reason: describe(&e),
    })?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| TraceError::Container {
        path: path.to_path_buf(),
        reason: describe(&e),
    })?;
    let metadata = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let t = RawTensor {
                dtype: view.dtype(),
                shape: view.shape().to_vec(),
                data: view.data().to_vec(),
            };
            (name, t)
        })
        .collect();
    Ok(Container { metadata, tensors })
}

pub fn read(path: &Path) -> Result<Container, TraceError> {
    let bytes = std::fs::read(path).map_err(|error| TraceError::Io {
        path: path.to_path_buf(),
        action: "cannot read",
        error,
    })?;
    decode(path, &bytes)
}

fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall => "shorter than the 8-byte header length".into(),
        E::InvalidHeaderLength => "the header length points past the end: truncated".into(),
        E::MetadataIncompleteBuffer => {
            "the data section does not match the header's offsets: truncated or padded".into()
        }
        E::InvalidHeaderDeserialization | E::InvalidHeader => "the JSON header is invalid".into(),
        E::HeaderTooLarge => {
            "the header length is implausibly large: not a safetensors file, or corrupt".into()
        }
        other => format!("{other:?}"),
    }
}

impl Container {
    pub fn meta<'a>(&'a self, path: &Path, key: &str) -> Result<&'a str, TraceError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| TraceError::Metadata {
                path: path.to_path_buf(),
                key: key.into(),
                reason: "is missing".into(),
            })
    }

    pub fn tensor<'a>(&'a self, path: &Path, name: &str) -> Result<&'a RawTensor, TraceError> {
        self.tensors.get(name).ok_or_else(|| TraceError::Tensor {
            path: path.to_path_buf(),
            tensor: name.into(),
            reason: "is missing".into(),
        })
    }

    fn vector<'a>(
        &'a self,
        path: &Path,
        name: &str,
        dtype: Dtype,
    ) -> Result<&'a RawTensor, TraceError> {
        let t = self.tensor(path, name)?;
        let bad = |reason: String| TraceError::Tensor {
            path: path.to_path_buf(),
            tensor: name.into(),
            reason,
        };
        if t.dtype != dtype {
            return Err(bad(format!("has dtype {:?}, expected {dtype:?}", t.dtype)));
        }
        if t.shape.len() != 1 {
            return Err(bad(format!(
                "has shape {:?}, expected one dimension",
                t.shape
            )));
        }
        Ok(t)
    }

    pub fn u32_column(&self, path: &Path, name: &str) -> Result<Vec<u32>, TraceError> {
        let t = self.vector(path, name, Dtype::U32)?;
        Ok(t.data
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }

    /// A U16 or U32 column, widened to u32.
    pub fn index_column(&self, path: &Path, name: &str) -> Result<Vec<u32>, TraceError> {
        let t = self.tensor(path, name)?;
        if t.dtype == Dtype::U16 {
            let t = self.vector(path, name, Dtype::U16)?;
            return Ok(t
                .data
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
                .collect());
        }
        self.u32_column(path, name)
    }

    pub fn u64_column(&self, path: &Path, name: &str) -> Result<Vec<u64>, TraceError> {
        let t = self.vector(path, name, Dtype::U64)?;
        Ok(t.data
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }

    pub fn u8_column(&self, path: &Path, name: &str) -> Result<Vec<u8>, TraceError> {
        Ok(self.vector(path, name, Dtype::U8)?.data.clone())
    }
}
