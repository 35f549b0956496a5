//! Attention trace files: a columnar layout in a safetensors container (traces/FORMAT.md).
//!
//! Each record kind is a set of equal-length columns; variable-length lists are CSR: an
//! `*_offsets` column of length records + 1 (u64) into one flat array (token indices U16
//! when they all fit, else U32; other lists U32). `Option<u32>`
//! columns store `NONE` (u32::MAX) for `None`.

use std::path::Path;

use super::attention::{
    AttentionTrace, HeadCall, LayerRecord, TRACE_FORMAT_VERSION, TopkCall, TopkPurpose, TopkStage,
    TraceHeader,
};
use super::container::{self, Container, RawTensor};
use super::error::TraceError;
use super::index_codec;
use super::trace_check::check_trace;

pub const TRACE_FORMAT: &str = "spatten-trace";
/// Sentinel for `None` in the `Option<u32>` columns.
pub const NONE: u32 = u32::MAX;

/// Token index arrays are U16 when every index fits (at most this many tokens), else U32.
pub const TOKENS_U16: u64 = 1 << 16;

fn index_tensor(flat: &[u32], wide: bool) -> RawTensor {
    if wide {
        RawTensor::u32s(flat)
    } else {
        let narrow: Vec<u16> = flat.iter().map(|&i| i as u16).collect();
        RawTensor::u16s(&narrow)
    }
}

fn opt(v: Option<u32>) -> u32 {
    v.unwrap_or(NONE)
}

fn from_opt(v: u32) -> Option<u32> {
    (v != NONE).then_some(v)
}

fn purpose_code(p: TopkPurpose) -> u8 {
    match p {
        TopkPurpose::Token => 0,
        TopkPurpose::Head => 1,
        TopkPurpose::LocalValue => 2,
        TopkPurpose::Page => 3,
    }
}

/// Flattens lists into (offsets, flat).
fn csr<'a>(lists: impl Iterator<Item = &'a Vec<u32>>) -> (Vec<u64>, Vec<u32>) {
    let mut offsets = vec![0u64];
    let mut flat = Vec::new();
    for l in lists {
        flat.extend_from_slice(l);
        offsets.push(flat.len() as u64);
    }
    (offsets, flat)
}

/// Flattens token index lists in the compact form of version 3: (offsets, words, codes).
fn compact<'a>(lists: impl Iterator<Item = &'a Vec<u32>>) -> (Vec<u64>, Vec<u32>, Vec<u8>) {
    let mut offsets = vec![0u64];
    let mut flat = Vec::new();
    let mut codes = Vec::new();
    for l in lists {
        let (code, words) = index_codec::encode(l);
        flat.extend_from_slice(&words);
        offsets.push(flat.len() as u64);
        codes.push(code);
    }
    (offsets, flat, codes)
}

/// Builds the container of a trace after checking it is consistent, in the version its
/// header calls for ([`TraceHeader::format_version`]).
pub fn encode_trace(path: &Path, t: &AttentionTrace) -> Result<Container, TraceError> {
    encode_trace_as(path, t, t.header.format_version())
}

/// [`encode_trace`] in a chosen format version (1 to [`TRACE_FORMAT_VERSION`], at least what
/// the header needs): for tools and tests that must produce older files.
pub fn encode_trace_as(
    path: &Path,
    t: &AttentionTrace,
    version: u32,
) -> Result<Container, TraceError> {
    let unwritable = |reason: String| TraceError::Unwritable {
        path: path.to_path_buf(),
        reason,
    };
    check_trace(t).map_err(unwritable)?;
    if !(t.header.min_version()..=TRACE_FORMAT_VERSION).contains(&version) {
        return Err(unwritable(format!(
            "version {version} cannot hold this trace (versions {} to {TRACE_FORMAT_VERSION} can)",
            t.header.min_version()
        )));
    }
    let compact_lists = version >= 3;
    let mut c = Container::default();
    let wide = t.header.prompt_tokens as u64 + t.header.generated_tokens as u64 > TOKENS_U16;
    c.metadata.insert("format".into(), TRACE_FORMAT.into());
    c.metadata.insert("version".into(), version.to_string());
    c.metadata.insert(
        "header".into(),
        serde_json::to_string(&t.header).expect("the header serializes"),
    );
    let mut put = |name: &str, t: RawTensor| {
        c.tensors.insert(name.to_string(), t);
    };
    let hc = &t.head_calls;
    let u32col = |f: fn(&HeadCall) -> u32| RawTensor::u32s(&hc.iter().map(f).collect::<Vec<_>>());
    let u8col = |f: fn(&HeadCall) -> u8| RawTensor::u8s(&hc.iter().map(f).collect::<Vec<_>>());
    put("head_calls.iteration", u32col(|c| c.iteration));
    let batched = t.header.batch.is_some();
    if batched {
        put("head_calls.sequence", u32col(|c| c.sequence));
    }
    put("head_calls.layer", u32col(|c| c.layer));
    put("head_calls.head", u32col(|c| c.head));
    put("head_calls.queries", u32col(|c| c.queries));
    put("head_calls.requant_rows", u32col(|c| c.requant_rows));
    put("head_calls.value_topk", u32col(|c| opt(c.value_topk)));
    put("head_calls.query_bits", u8col(|c| c.query_bits));
    put("head_calls.key_msb_bits", u8col(|c| c.key_msb_bits));
    put("head_calls.value_msb_bits", u8col(|c| c.value_msb_bits));
    put("head_calls.lsb_bits", u8col(|c| c.lsb_bits));
    put("head_calls.lsb_refetch", u8col(|c| c.lsb_refetch as u8));
    put(
        "head_calls.accumulate_importance",
        u8col(|c| c.accumulate_importance as u8),
    );
    let mut index_lists = |name: &str, offsets: &str, codes: &str, lists: Vec<&Vec<u32>>| {
        if compact_lists {
            let (off, flat, code) = compact(lists.into_iter());
            put(offsets, RawTensor::u64s(&off));
            put(name, RawTensor::u32s(&flat));
            put(codes, RawTensor::u8s(&code));
        } else {
            let (off, flat) = csr(lists.into_iter());
            put(offsets, RawTensor::u64s(&off));
            put(name, index_tensor(&flat, wide));
        }
    };
    index_lists(
        "head_calls.keys",
        "head_calls.key_offsets",
        "head_calls.key_encoding",
        hc.iter().map(|c| &c.keys).collect(),
    );
    index_lists(
        "head_calls.values",
        "head_calls.value_offsets",
        "head_calls.value_encoding",
        hc.iter().map(|c| &c.values).collect(),
    );
    index_lists(
        "layers.tokens_kept",
        "layers.token_offsets",
        "layers.token_encoding",
        t.layers.iter().map(|r| &r.tokens_kept).collect(),
    );

    let tk = &t.topk_calls;
    put(
        "topk.purpose",
        RawTensor::u8s(
            &tk.iter()
                .map(|c| purpose_code(c.purpose))
                .collect::<Vec<_>>(),
        ),
    );
    put(
        "topk.n",
        RawTensor::u32s(&tk.iter().map(|c| c.n).collect::<Vec<_>>()),
    );
    put(
        "topk.k",
        RawTensor::u32s(&tk.iter().map(|c| c.k).collect::<Vec<_>>()),
    );
    let (off, flat) = csr(tk.iter().map(|c| &c.rounds));
    put("topk.round_offsets", RawTensor::u64s(&off));
    put("topk.rounds", RawTensor::u32s(&flat));
    if t.header.value_topk_entries.is_some() {
        let triples: Vec<Vec<u32>> = tk
            .iter()
            .map(|c| c.stages.iter().flat_map(|s| [s.n, s.k, s.rounds]).collect())
            .collect();
        let (off, flat) = csr(triples.iter());
        put("topk.stage_offsets", RawTensor::u64s(&off));
        put("topk.stages", RawTensor::u32s(&flat));
    }

    let ly = &t.layers;
    let lcol = |f: fn(&LayerRecord) -> u32| RawTensor::u32s(&ly.iter().map(f).collect::<Vec<_>>());
    put("layers.iteration", lcol(|r| r.iteration));
    if batched {
        put("layers.sequence", lcol(|r| r.sequence));
    }
    put("layers.layer", lcol(|r| r.layer));
    put("layers.token_topk", lcol(|r| opt(r.token_topk)));
    put("layers.head_topk", lcol(|r| opt(r.head_topk)));
    let (off, flat) = csr(ly.iter().map(|r| &r.heads_kept));
    put("layers.head_offsets", RawTensor::u64s(&off));
    put("layers.heads_kept", RawTensor::u32s(&flat));
    Ok(c)
}

/// Writes a trace atomically; refuses an inconsistent trace.
pub fn write_trace(path: &Path, t: &AttentionTrace) -> Result<(), TraceError> {
    container::write(path, &encode_trace(path, t)?)
}

/// Reads a trace and checks every consistency rule (see `trace_check`).
pub fn read_trace(path: &Path) -> Result<AttentionTrace, TraceError> {
    decode_trace(path, &container::read(path)?)
}

struct Columns<'a> {
    path: &'a Path,
    c: &'a Container,
    /// Version 3: token index lists in the compact encoding, with a code column each.
    compact: bool,
    /// Tokens of the trace (bounds decoded indices).
    tokens: u64,
}

impl Columns<'_> {
    /// Token index lists: plain CSR before version 3, compact (index_codec) from it.
    fn index_lists(
        &self,
        offsets: &str,
        flat: &str,
        codes: &str,
        records: usize,
    ) -> Result<Vec<Vec<u32>>, TraceError> {
        let lists = self.lists(offsets, flat, records)?;
        if !self.compact {
            return Ok(lists);
        }
        let code = self.u8s(codes, records)?;
        // Ranges expand: refuse before allocating what a hostile file could ask for.
        let total: u64 = lists
            .iter()
            .zip(&code)
            .map(|(w, &c)| index_codec::decoded_len(c, w))
            .sum();
        let limit = crate::budget::limits().max_memory_bytes;
        if total.saturating_mul(4) > limit {
            return Err(TraceError::Tensor {
                path: self.path.to_path_buf(),
                tensor: flat.into(),
                reason: format!(
                    "decodes to {total} token indices, above the memory limit of {limit} B (--max-memory)"
                ),
            });
        }
        lists
            .iter()
            .zip(&code)
            .enumerate()
            .map(|(i, (words, &c))| {
                index_codec::decode(c, words, self.tokens).map_err(|reason| TraceError::Tensor {
                    path: self.path.to_path_buf(),
                    tensor: flat.into(),
                    reason: format!("record {i}: {reason}"),
                })
            })
            .collect()
    }

    fn inconsistent(&self, reason: String) -> TraceError {
        TraceError::Inconsistent {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn u32s(&self, name: &str, len: usize) -> Result<Vec<u32>, TraceError> {
        let v = self.c.u32_column(self.path, name)?;
        self.len_is(name, v.len(), len)?;
        Ok(v)
    }

    /// A batched trace's sequence column; all zeros for one sequence, which has none.
    fn sequences(&self, name: &str, batched: bool, len: usize) -> Result<Vec<u32>, TraceError> {
        if batched {
            self.u32s(name, len)
        } else {
            Ok(vec![0; len])
        }
    }

    fn u8s(&self, name: &str, len: usize) -> Result<Vec<u8>, TraceError> {
        let v = self.c.u8_column(self.path, name)?;
        self.len_is(name, v.len(), len)?;
        Ok(v)
    }

    fn len_is(&self, name: &str, got: usize, want: usize) -> Result<(), TraceError> {
        if got != want {
            return Err(TraceError::Tensor {
                path: self.path.to_path_buf(),
                tensor: name.into(),
                reason: format!("has {got} entries, expected {want}"),
            });
        }
        Ok(())
    }

    /// Splits a flat array by its offsets, checking they start at 0, never decrease and end
    /// at the flat array's length.
    fn lists(
        &self,
        offsets: &str,
        flat: &str,
        records: usize,
    ) -> Result<Vec<Vec<u32>>, TraceError> {
        let off = self.c.u64_column(self.path, offsets)?;
        self.len_is(offsets, off.len(), records + 1)?;
        let data = self.c.index_column(self.path, flat)?;
        if off[0] != 0 {
            return Err(self.inconsistent(format!("{offsets}[0] = {}, expected 0", off[0])));
        }
        for (i, w) in off.windows(2).enumerate() {
            if w[1] < w[0] {
                return Err(self.inconsistent(format!(
                    "{offsets} decreases at {}: {} then {}",
                    i + 1,
                    w[0],
                    w[1]
                )));
            }
        }
        let last = *off.last().unwrap();
        if last != data.len() as u64 {
            return Err(self.inconsistent(format!(
                "{offsets} ends at {last} but {flat} has {} entries",
                data.len()
            )));
        }
        Ok(off
            .windows(2)
            .map(|w| data[w[0] as usize..w[1] as usize].to_vec())
            .collect())
    }

    fn records(&self, name: &str) -> Result<usize, TraceError> {
        Ok(self
            .c
            .tensor(self.path, name)?
            .shape
            .first()
            .copied()
            .unwrap_or(0))
    }
}

pub fn decode_trace(path: &Path, c: &Container) -> Result<AttentionTrace, TraceError> {
    let meta_err = |key: &str, reason: String| TraceError::Metadata {
        path: path.to_path_buf(),
        key: key.into(),
        reason,
    };
    let format = c.meta(path, "format")?;
    if format != TRACE_FORMAT {
        return Err(meta_err(
            "format",
            format!("is {format:?}, expected {TRACE_FORMAT:?}"),
        ));
    }
    let version = c.meta(path, "version")?;
    let known = (1..=TRACE_FORMAT_VERSION).find(|v| v.to_string() == version);
    let Some(version) = known else {
        return Err(meta_err(
            "version",
            format!("is {version:?}; this reader understands versions 1 to {TRACE_FORMAT_VERSION}"),
        ));
    };
    let header: TraceHeader = serde_json::from_str(c.meta(path, "header")?)
        .map_err(|e| meta_err("header", format!("is not a valid trace header: {e}")))?;
    if header.min_version() > version {
        return Err(meta_err(
            "header",
            format!(
                "needs version {} (kv_heads needs 2, softmax_key_tile_rows 4, batch 5, \
                 value_topk_entries 6); the \
                 file says {version}",
                header.min_version()
            ),
        ));
    }
    super::trace_check::check_header(&header).map_err(|e| meta_err("header", e))?;
    let cols = Columns {
        path,
        c,
        compact: version >= 3,
        tokens: header.prompt_tokens as u64 + header.generated_tokens as u64,
    };

    let n = cols.records("head_calls.iteration")?;
    let iteration = cols.u32s("head_calls.iteration", n)?;
    let sequence = cols.sequences("head_calls.sequence", header.batch.is_some(), n)?;
    let layer = cols.u32s("head_calls.layer", n)?;
    let head = cols.u32s("head_calls.head", n)?;
    let queries = cols.u32s("head_calls.queries", n)?;
    let requant_rows = cols.u32s("head_calls.requant_rows", n)?;
    let value_topk = cols.u32s("head_calls.value_topk", n)?;
    let query_bits = cols.u8s("head_calls.query_bits", n)?;
    let key_msb_bits = cols.u8s("head_calls.key_msb_bits", n)?;
    let value_msb_bits = cols.u8s("head_calls.value_msb_bits", n)?;
    let lsb_bits = cols.u8s("head_calls.lsb_bits", n)?;
    let lsb_refetch = cols.u8s("head_calls.lsb_refetch", n)?;
    let accumulate = cols.u8s("head_calls.accumulate_importance", n)?;
    let keys = cols.index_lists(
        "head_calls.key_offsets",
        "head_calls.keys",
        "head_calls.key_encoding",
        n,
    )?;
    let values = cols.index_lists(
        "head_calls.value_offsets",
        "head_calls.values",
        "head_calls.value_encoding",
        n,
    )?;
    let flag = |name: &str, v: &[u8]| -> Result<(), TraceError> {
        match v.iter().position(|&b| b > 1) {
            Some(i) => Err(cols.inconsistent(format!("{name}[{i}] = {}, expected 0 or 1", v[i]))),
            None => Ok(()),
        }
    };
    flag("head_calls.lsb_refetch", &lsb_refetch)?;
    flag("head_calls.accumulate_importance", &accumulate)?;
    let head_calls = keys
        .into_iter()
        .zip(values)
        .enumerate()
        .map(|(i, (keys, values))| HeadCall {
            sequence: sequence[i],
            iteration: iteration[i],
            layer: layer[i],
            head: head[i],
            queries: queries[i],
            query_bits: query_bits[i],
            keys,
            values,
            key_msb_bits: key_msb_bits[i],
            value_msb_bits: value_msb_bits[i],
            lsb_bits: lsb_bits[i],
            requant_rows: requant_rows[i],
            lsb_refetch: lsb_refetch[i] == 1,
            accumulate_importance: accumulate[i] == 1,
            value_topk: from_opt(value_topk[i]),
        })
        .collect();

    let n = cols.records("topk.n")?;
    let purpose = cols.u8s("topk.purpose", n)?;
    let tn = cols.u32s("topk.n", n)?;
    let tk = cols.u32s("topk.k", n)?;
    let rounds = cols.lists("topk.round_offsets", "topk.rounds", n)?;
    let stages = if header.value_topk_entries.is_some() {
        cols.lists("topk.stage_offsets", "topk.stages", n)?
    } else {
        vec![Vec::new(); n]
    };
    let mut topk_calls = Vec::with_capacity(n);
    for (i, (rounds, stages)) in rounds.into_iter().zip(stages).enumerate() {
        if stages.len() % 3 != 0 {
            return Err(cols.inconsistent(format!(
                "topk.stages of call {i} has {} entries, not (n, k, rounds) triples",
                stages.len()
            )));
        }
        let stages = stages
            .chunks(3)
            .map(|s| TopkStage {
                n: s[0],
                k: s[1],
                rounds: s[2],
            })
            .collect();
        let purpose = match purpose[i] {
            0 => TopkPurpose::Token,
            1 => TopkPurpose::Head,
            2 => TopkPurpose::LocalValue,
            3 => TopkPurpose::Page,
            p => {
                return Err(
                    cols.inconsistent(format!("topk.purpose[{i}] = {p}, expected 0, 1, 2 or 3"))
                );
            }
        };
        topk_calls.push(TopkCall {
            purpose,
            n: tn[i],
            k: tk[i],
            rounds,
            stages,
        });
    }

    let n = cols.records("layers.iteration")?;
    let iteration = cols.u32s("layers.iteration", n)?;
    let sequence = cols.sequences("layers.sequence", header.batch.is_some(), n)?;
    let layer = cols.u32s("layers.layer", n)?;
    let token_topk = cols.u32s("layers.token_topk", n)?;
    let head_topk = cols.u32s("layers.head_topk", n)?;
    let tokens = cols.index_lists(
        "layers.token_offsets",
        "layers.tokens_kept",
        "layers.token_encoding",
        n,
    )?;
    let heads = cols.lists("layers.head_offsets", "layers.heads_kept", n)?;
    let layers = tokens
        .into_iter()
        .zip(heads)
        .enumerate()
        .map(|(i, (tokens_kept, heads_kept))| LayerRecord {
            sequence: sequence[i],
            iteration: iteration[i],
            layer: layer[i],
            tokens_kept,
            heads_kept,
            token_topk: from_opt(token_topk[i]),
            head_topk: from_opt(head_topk[i]),
        })
        .collect();

    let trace = AttentionTrace {
        header,
        head_calls,
        layers,
        topk_calls,
    };
    check_trace(&trace).map_err(|reason| cols.inconsistent(reason))?;
    Ok(trace)
}
