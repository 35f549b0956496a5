//! Import of the public SpAtten CSV traces (the CSV format of github.com/mit-han-lab/spatten) into an [`AttentionTrace`].
//!
//! The CSV records counts, not indices. Decisions are kept exactly: per row the key and value
//! fetch counts, bit widths, LSB refetch flag, importance accumulation, and each token top-k.
//! What the CSV lacks is filled in by documented rules (also in traces/FORMAT.md):
//! - CSV iteration t (sentence length L = prompt + t + 1) is our generation iteration t + 1
//!   with one query row; the prompt is L(first row) - 1 tokens; no summarization calls.
//! - Indices: the tokens of an iteration are ranked once, the newest token (L - 1) first, then
//!   the others in bit-reversed order of their position (a van der Corput sequence). A call
//!   that fetches k keys fetches the k best-ranked tokens, its v values the v best-ranked of
//!   those. Any k gives an evenly spread set, and smaller sets nest inside larger ones, as
//!   cascade pruning and local V pruning require.
//! - A row with value_fetch_num < key_fetch_num ran a local V top-k (n = keys, k = values).
//!   A row with if_topk ran the token top-k after its layer (k = topk; n = the row's keys, or
//!   all L tokens when k exceeds them, as at the end of an iteration in the release). A layer
//!   whose successor in the same iteration lists fewer heads ran a head top-k.
//! - Quick-select round sizes are not in the CSV; they are modelled as quick-select over n
//!   distinct scores with a uniformly drawn pivot (ChaCha8, seed [`ROUNDS_SEED`], stream =
//!   top-k call index), which has the same round-size distribution as the hardware on
//!   distinct scores with a random pivot.
//! - Bit width -1 means unquantized in the PyTorch model. Our datapath's word is 12 bits, so
//!   an unquantized K or V is read as that word split the way the public RTL harness splits
//!   it: 8 MSBs fetched first and the 4 LSBs always refetched (lsb_bits = 4, LSB refetch on);
//!   an unquantized Q is the full 12-bit word. Otherwise lsb_bits = auto_requant_incre (0 if
//!   -1). Widths above the 12-bit word are refused.
//! - Dropped: auto_requant_thres (kept in the header's source string) and
//!   if_rescale_previous_importance (no field in the trace).

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::attention::{AttentionTrace, HeadCall, LayerRecord, TopkCall, TopkPurpose, TraceHeader};
use super::error::TraceError;
use super::trace_check::check_trace;
use crate::config::workload::StageKind;

/// The datapath's on-chip word (sim/reference/SPEC.md).
const WORD_BITS: u8 = 12;
/// An unquantized K or V (bit width -1): the word as 8 MSBs plus 4 LSBs always refetched.
const UNQUANTIZED_MSB_BITS: u8 = 8;
const UNQUANTIZED_LSB_BITS: u8 = 4;
/// The widest query the public files use.
const MAX_QUERY_BITS: u8 = 16;

pub const COLUMNS: [&str; 17] = [
    "iteration_id",
    "layer_id",
    "head_id",
    "embedding_length_D",
    "sentence_length_L",
    "key_fetch_num",
    "quant_key_bit",
    "quant_query_bit",
    "auto_requant_thres",
    "if_requant",
    "auto_requant_incre",
    "value_fetch_num",
    "quant_value_bit",
    "if_accumulate_importance",
    "if_rescale_previous_importance",
    "if_topk",
    "topk",
];

/// Bounds that keep a hostile file from exhausting memory or overflowing ids.
pub const MAX_TOKENS: u32 = 1 << 20;
pub const MAX_ID: u32 = 1 << 16;

/// Seed of the modelled quick-select pivots; stored as the trace header's seed.
pub const ROUNDS_SEED: u64 = 0x5A77_E4C5;

/// One parsed CSV row.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    pub line: u64,
    pub iteration: u32,
    pub layer: u32,
    pub head: u32,
    pub head_dim: u32,
    pub sentence_length: u32,
    pub key_fetch: u32,
    pub key_bits: u8,
    pub query_bits: u8,
    pub requant_threshold: Option<f64>,
    pub requant: bool,
    pub lsb_bits: u8,
    pub value_fetch: u32,
    pub value_bits: u8,
    pub accumulate_importance: bool,
    pub rescale_previous_importance: bool,
    pub topk: Option<u32>,
}

/// Parsed rows plus the trailing configuration line, if the file has one.
#[derive(Debug, Clone)]
pub struct CsvFile {
    pub rows: Vec<CsvRow>,
    pub config_line: Option<String>,
}

fn field_err(path: &Path, line: u64, column: &str, value: &str, want: &str) -> TraceError {
    TraceError::Csv {
        path: path.to_path_buf(),
        line,
        reason: format!("column {column} = {value:?}: expected {want}"),
    }
}

/// Parses the 17-column CSV; rejects malformed rows with their 1-based line number.
pub fn parse(path: &Path, text: &str) -> Result<CsvFile, TraceError> {
    let csv_err = |line: u64, reason: String| TraceError::Csv {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(header) = lines.first() else {
        return Err(csv_err(
            1,
            "empty file: expected the 17-column SpAtten header".into(),
        ));
    };
    let names: Vec<&str> = header
        .trim_end_matches('\r')
        .split(',')
        .map(str::trim)
        .collect();
    if names != COLUMNS {
        return Err(csv_err(
            1,
            format!(
                "header is not the 17-column SpAtten header ({})",
                COLUMNS.join(",")
            ),
        ));
    }
    let last_content = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .unwrap_or(0);
    let mut rows = Vec::new();
    let mut config_line = None;
    for (i, raw) in lines.iter().enumerate().skip(1) {
        let line = i as u64 + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split(',').map(str::trim).collect();
        // The release appends the generating config's path as a last, non-CSV line.
        let is_config =
            fields[0].parse::<f64>().is_err() && fields[1..].iter().all(|f| f.is_empty());
        if is_config {
            if i != last_content {
                return Err(csv_err(
                    line,
                    format!("non-data line {:?} before the end of the file", fields[0]),
                ));
            }
            config_line = Some(fields[0].to_string());
            continue;
        }
        if fields.len() != COLUMNS.len() {
            return Err(csv_err(
                line,
                format!("{} fields, expected {}", fields.len(), COLUMNS.len()),
            ));
        }
        rows.push(parse_row(path, line, &fields)?);
    }
    if rows.is_empty() {
        return Err(csv_err(lines.len() as u64, "no data rows".into()));
    }
    Ok(CsvFile { rows, config_line })
}

fn parse_row(path: &Path, line: u64, f: &[&str]) -> Result<CsvRow, TraceError> {
    let uint = |i: usize| -> Result<u32, TraceError> {
        f[i].parse::<u32>()
            .map_err(|_| field_err(path, line, COLUMNS[i], f[i], "a non-negative integer"))
    };
    let count = |i: usize| -> Result<u32, TraceError> {
        match f[i].parse::<u32>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(field_err(
                path,
                line,
                COLUMNS[i],
                f[i],
                "a positive integer",
            )),
        }
    };
    let boolean = |i: usize| -> Result<bool, TraceError> {
        match f[i] {
            "True" => Ok(true),
            "False" => Ok(false),
            v => Err(field_err(path, line, COLUMNS[i], v, "True or False")),
        }
    };
    // -1 = unquantized, carried as a 16-bit word.
    // `None` = -1, unquantized. K and V are stored in the 12-bit word; Q (16 bits in some
    // public files) is fetched at the width the file gives.
    let bits = |i: usize, max: u8| -> Result<Option<u8>, TraceError> {
        match f[i].parse::<i32>() {
            Ok(-1) => Ok(None),
            Ok(b) if (1..=i32::from(max)).contains(&b) => Ok(Some(b as u8)),
            _ => Err(field_err(
                path,
                line,
                COLUMNS[i],
                f[i],
                &format!("a bit width in 1..={max} or -1"),
            )),
        }
    };
    let head_dim = match f[3].parse::<f64>() {
        Ok(d) if d >= 1.0 && d.fract() == 0.0 && d <= u32::MAX as f64 => d as u32,
        _ => {
            return Err(field_err(
                path,
                line,
                COLUMNS[3],
                f[3],
                "a positive whole number",
            ));
        }
    };
    let requant_threshold = match f[8].parse::<f64>() {
        Ok(-1.0) => None,
        Ok(t) if (0.0..=1.0).contains(&t) => Some(t),
        _ => {
            return Err(field_err(
                path,
                line,
                COLUMNS[8],
                f[8],
                "a threshold in [0, 1] or -1",
            ));
        }
    };
    let lsb_bits = match f[10].parse::<i32>() {
        Ok(-1) => 0,
        Ok(b) if (0..=WORD_BITS as i32).contains(&b) => b as u8,
        _ => {
            return Err(field_err(
                path,
                line,
                COLUMNS[10],
                f[10],
                "a bit count in 0..=12 or -1",
            ));
        }
    };
    let (key_bits, value_bits) = (bits(6, WORD_BITS)?, bits(12, WORD_BITS)?);
    let unquantized_kv = key_bits.is_none() || value_bits.is_none();
    let (lsb_bits, requant) = if unquantized_kv {
        (UNQUANTIZED_LSB_BITS, true)
    } else {
        (lsb_bits, boolean(9)?)
    };
    let if_topk = boolean(15)?;
    let topk = match (if_topk, f[16].parse::<i64>()) {
        (false, Ok(-1)) => None,
        (true, Ok(k)) if k >= 0 && k <= u32::MAX as i64 => Some(k as u32),
        (false, _) => {
            return Err(field_err(
                path,
                line,
                COLUMNS[16],
                f[16],
                "-1 when if_topk is False",
            ));
        }
        (true, _) => {
            return Err(field_err(
                path,
                line,
                COLUMNS[16],
                f[16],
                "a count when if_topk is True",
            ));
        }
    };
    let row = CsvRow {
        line,
        iteration: uint(0)?,
        layer: uint(1)?,
        head: uint(2)?,
        head_dim,
        sentence_length: count(4)?,
        key_fetch: count(5)?,
        key_bits: key_bits.unwrap_or(UNQUANTIZED_MSB_BITS),
        query_bits: bits(7, MAX_QUERY_BITS)?.unwrap_or(WORD_BITS),
        requant_threshold,
        requant,
        lsb_bits,
        value_fetch: uint(11)?,
        value_bits: value_bits.unwrap_or(UNQUANTIZED_MSB_BITS),
        accumulate_importance: boolean(13)?,
        rescale_previous_importance: boolean(14)?,
        topk,
    };
    let err = |reason: String| TraceError::Csv {
        path: path.to_path_buf(),
        line,
        reason,
    };
    if row.sentence_length > MAX_TOKENS {
        return Err(err(format!(
            "sentence_length_L {} exceeds the supported {MAX_TOKENS} tokens",
            row.sentence_length
        )));
    }
    if row.layer >= MAX_ID || row.head >= MAX_ID {
        return Err(err(format!(
            "layer_id {} / head_id {}: ids must be below {MAX_ID}",
            row.layer, row.head
        )));
    }
    if row.key_fetch > row.sentence_length {
        return Err(err(format!(
            "key_fetch_num {} exceeds sentence_length_L {}",
            row.key_fetch, row.sentence_length
        )));
    }
    if row.value_fetch > row.key_fetch {
        return Err(err(format!(
            "value_fetch_num {} exceeds key_fetch_num {}",
            row.value_fetch, row.key_fetch
        )));
    }
    if let Some(k) = row.topk
        && k > row.sentence_length
    {
        return Err(err(format!(
            "topk {k} exceeds sentence_length_L {}",
            row.sentence_length
        )));
    }
    if row.requant && row.lsb_bits == 0 {
        return Err(err(
            "if_requant is True but auto_requant_incre gives no LSBs".into(),
        ));
    }
    let widest = row.key_bits.max(row.value_bits) + row.lsb_bits;
    if row.requant && widest > WORD_BITS {
        return Err(err(format!(
            "MSB {} + LSB {} bits exceed the {WORD_BITS}-bit datapath word",
            row.key_bits.max(row.value_bits),
            row.lsb_bits
        )));
    }
    Ok(row)
}

/// Rank of each token position in the documented index rule: newest first, then bit-reversed.
pub fn token_ranks(tokens: u32) -> Vec<u32> {
    let mut rank = vec![u32::MAX; tokens as usize];
    if tokens == 0 {
        return rank;
    }
    let newest = tokens - 1;
    rank[newest as usize] = 0;
    let bits = u32::BITS - newest.leading_zeros();
    let mut next = 1;
    for j in 0..(1u64 << bits) {
        let p = if bits == 0 {
            0
        } else {
            (j as u32).reverse_bits() >> (u32::BITS - bits)
        };
        if p < newest {
            rank[p as usize] = next;
            next += 1;
        }
    }
    rank
}

/// The `count` best-ranked positions, ascending.
fn best(ranks: &[u32], count: u32) -> Vec<u32> {
    (0..ranks.len() as u32)
        .filter(|&p| ranks[p as usize] < count)
        .collect()
}

/// Round sizes of quick-select for the k largest of n distinct scores with a uniform pivot.
/// Distinct scores make the working set a contiguous range of ranks, so only ranks are drawn.
pub fn modelled_rounds(n: u32, k: u32, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let mut rounds = Vec::new();
    if k == 0 || k >= n {
        return rounds;
    }
    // Working set = ranks lo..hi (rank 0 = largest); `target` more elements still to keep.
    let (mut lo, mut hi, mut target) = (0u32, n, k);
    loop {
        rounds.push(hi - lo);
        let pivot = rng.gen_range(lo..hi);
        let greater = pivot - lo;
        if greater < target {
            target -= greater + 1;
            if target == 0 {
                break;
            }
            lo = pivot + 1;
        } else if greater > target {
            hi = pivot;
        } else {
            break;
        }
    }
    rounds
}

/// Reads and converts a SpAtten CSV trace.
pub fn import(path: &Path) -> Result<AttentionTrace, TraceError> {
    let text = std::fs::read_to_string(path).map_err(|error| TraceError::Io {
        path: path.to_path_buf(),
        action: "cannot read",
        error,
    })?;
    convert(path, &parse(path, &text)?)
}

/// Converts parsed rows; checks the row order and the iteration / sentence-length relation.
pub fn convert(path: &Path, file: &CsvFile) -> Result<AttentionTrace, TraceError> {
    let rows = &file.rows;
    let err = |line: u64, reason: String| TraceError::Csv {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let Some(first) = rows.first() else {
        return Err(err(1, "no data rows".into()));
    };
    if first.iteration != 0 {
        return Err(err(
            first.line,
            format!("first iteration_id is {}, expected 0", first.iteration),
        ));
    }
    let prompt_tokens = first.sentence_length - 1;
    let mut prev: Option<&CsvRow> = None;
    for r in rows {
        if r.head_dim != first.head_dim {
            return Err(err(
                r.line,
                format!(
                    "embedding_length_D {} differs from {} on the first row",
                    r.head_dim, first.head_dim
                ),
            ));
        }
        if r.sentence_length as u64 != prompt_tokens as u64 + r.iteration as u64 + 1 {
            return Err(err(
                r.line,
                format!(
                    "sentence_length_L {} but iteration {} of a {prompt_tokens}-token prompt has {}",
                    r.sentence_length,
                    r.iteration,
                    prompt_tokens as u64 + r.iteration as u64 + 1
                ),
            ));
        }
        if let Some(p) = prev {
            let ok = (r.iteration, r.layer, r.head) > (p.iteration, p.layer, p.head)
                && r.iteration <= p.iteration + 1;
            if !ok {
                return Err(err(
                    r.line,
                    format!(
                        "row (iteration {}, layer {}, head {}) does not follow (iteration {}, layer {}, head {}) in order",
                        r.iteration, r.layer, r.head, p.iteration, p.layer, p.head
                    ),
                ));
            }
        }
        prev = Some(r);
    }
    let iterations = rows.last().unwrap().iteration + 1;
    let layers = rows.iter().map(|r| r.layer).max().unwrap() + 1;
    let heads = rows.iter().map(|r| r.head).max().unwrap() + 1;

    let mut head_calls = Vec::with_capacity(rows.len());
    let mut topk_calls: Vec<TopkCall> = Vec::new();
    let mut layer_records = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(ROUNDS_SEED);
    let mut push_topk = |calls: &mut Vec<TopkCall>, purpose, n, k| {
        rng.set_stream(calls.len() as u64);
        rng.set_word_pos(0);
        let rounds = modelled_rounds(n, k, &mut rng);
        calls.push(TopkCall {
            purpose,
            n,
            k,
            rounds,
            stages: Vec::new(),
        });
        (calls.len() - 1) as u32
    };

    // Group rows by (iteration, layer); groups are contiguous after the order check.
    let mut groups: Vec<&[CsvRow]> = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len()
            || (rows[i].iteration, rows[i].layer) != (rows[start].iteration, rows[start].layer)
        {
            groups.push(&rows[start..i]);
            start = i;
        }
    }
    let mut ranks_for: Option<(u32, Vec<u32>)> = None;
    for (g, group) in groups.iter().enumerate() {
        let (iteration, layer) = (group[0].iteration, group[0].layer);
        if ranks_for.as_ref().is_none_or(|(it, _)| *it != iteration) {
            ranks_for = Some((iteration, token_ranks(group[0].sentence_length)));
        }
        let ranks = &ranks_for.as_ref().unwrap().1;
        let mut token_topk = None;
        let mut layer_keys = 0;
        for r in group.iter() {
            let value_topk = (r.value_fetch < r.key_fetch).then(|| {
                push_topk(
                    &mut topk_calls,
                    TopkPurpose::LocalValue,
                    r.key_fetch,
                    r.value_fetch,
                )
            });
            head_calls.push(HeadCall {
                sequence: 0,
                iteration: iteration + 1,
                layer,
                head: r.head,
                queries: 1,
                query_bits: r.query_bits,
                keys: best(ranks, r.key_fetch),
                values: best(ranks, r.value_fetch),
                key_msb_bits: r.key_bits,
                value_msb_bits: r.value_bits,
                lsb_bits: r.lsb_bits,
                requant_rows: r.requant as u32,
                lsb_refetch: r.requant,
                accumulate_importance: r.accumulate_importance,
                value_topk,
            });
            layer_keys = layer_keys.max(r.key_fetch);
            if let Some(k) = r.topk {
                if token_topk.is_some() {
                    return Err(err(
                        r.line,
                        format!("a second token top-k in iteration {iteration}, layer {layer}"),
                    ));
                }
                // A k above the fetched count re-admits tokens: the ranking then ran over
                // the importance of all L tokens (end-of-iteration pruning in the release).
                let n = if k <= r.key_fetch {
                    r.key_fetch
                } else {
                    r.sentence_length
                };
                token_topk = Some((k, n));
            }
        }
        let heads_here: Vec<u32> = group.iter().map(|r| r.head).collect();
        // Heads alive after this layer: those the next layer of the same iteration runs.
        let heads_kept = match groups.get(g + 1) {
            Some(next) if next[0].iteration == iteration => next.iter().map(|r| r.head).collect(),
            _ => heads_here.clone(),
        };
        let head_topk = (heads_kept.len() < heads_here.len()
            && heads_kept.iter().all(|h| heads_here.contains(h)))
        .then(|| {
            push_topk(
                &mut topk_calls,
                TopkPurpose::Head,
                heads_here.len() as u32,
                heads_kept.len() as u32,
            )
        });
        let (tokens_kept, token_topk) = match token_topk {
            Some((k, n)) => (
                best(ranks, k),
                Some(push_topk(&mut topk_calls, TopkPurpose::Token, n, k)),
            ),
            None => (best(ranks, layer_keys), None),
        };
        layer_records.push(LayerRecord {
            sequence: 0,
            iteration: iteration + 1,
            layer,
            tokens_kept,
            heads_kept,
            token_topk,
            head_topk,
        });
    }

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let workload = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut source = format!("spatten-csv:{name}");
    if let Some(c) = &file.config_line {
        source.push_str(&format!("; config={c}"));
    }
    if let Some(t) = rows.iter().find_map(|r| r.requant_threshold) {
        source.push_str(&format!("; requant_threshold={t}"));
    }
    source.push_str("; indices=newest+bit-reversed; rounds=modelled");
    let trace = AttentionTrace {
        header: TraceHeader {
            workload,
            source,
            layers,
            heads,
            head_dim: first.head_dim,
            stage: StageKind::Generation,
            prompt_tokens,
            generated_tokens: iterations,
            seed: ROUNDS_SEED,
            kv_heads: None,
            softmax_key_tile_rows: None,
            batch: None,
            value_topk_entries: None,
        },
        head_calls,
        layers: layer_records,
        topk_calls,
    };
    check_trace(&trace).map_err(|reason| TraceError::Inconsistent {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok(trace)
}
