//! The attention trace: the contract between the reference (what happens) and the cycle
//! simulator (when it happens). The on-disk format is documented in traces/FORMAT.md.

use serde::{Deserialize, Serialize};

use crate::config::workload::StageKind;

/// The newest on-disk layout; readers accept every version from 1 up to it. A writer records
/// the oldest version that can express the trace, so a trace without version-2 content
/// (grouped K/V heads) stays byte-identical to what version 1 wrote.
pub const TRACE_FORMAT_VERSION: u32 = 6;

/// What produced a trace and for which model shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// Workload name (or the imported file's name).
    pub workload: String,
    /// Producer: "reference", "spatten-csv", ... with details after a colon.
    pub source: String,
    pub layers: u32,
    pub heads: u32,
    pub head_dim: u32,
    pub stage: StageKind,
    pub prompt_tokens: u32,
    pub generated_tokens: u32,
    pub seed: u64,
    /// K/V heads when fewer than `heads` (grouped-query attention, version 2): query head h
    /// reads K/V head `h / (heads / kv_heads)`. Absent = one K/V head per query head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<u32>,
    /// Key tile rows over which the reference summed the rows of calls with more than one
    /// query row online, for a design whose tiled summarization runs two passes (version 4;
    /// SPEC.md 9b). Absent = every row's sum is exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub softmax_key_tile_rows: Option<u32>,
    /// Independent sequences of a batch sharing the datapath when more than one (version
    /// 5): calls and records then say which sequence they belong to. Absent = one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// Candidates the local-V top-k engine holds (`topk_value.candidate_entries`, version
    /// 6): a selection over more runs hierarchically (SPEC.md 6.4) and its call lists its
    /// stages. Absent = the engine ranks any row in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_topk_entries: Option<u32>,
}

/// What the reference must know of a design point: the schedule choices that change what it
/// computes (a two-pass design's online sums, SPEC.md 9b) or what it records (a hierarchical
/// selection's stages, SPEC.md 6.4). The default is a design with neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReferenceDesign {
    /// Key tile rows of a two-pass tiled summarization ([`TraceHeader::softmax_key_tile_rows`]).
    pub softmax_key_tile_rows: Option<u32>,
    /// The local-V engine's candidate storage ([`TraceHeader::value_topk_entries`]).
    pub value_topk_entries: Option<u32>,
}

impl TraceHeader {
    /// K/V heads (`heads` when the trace does not say).
    pub fn kv_heads(&self) -> u32 {
        self.kv_heads.unwrap_or(self.heads)
    }

    /// The K/V head that query head `head` reads.
    pub fn kv_head_of(&self, head: u32) -> u32 {
        head / (self.heads / self.kv_heads().max(1)).max(1)
    }

    /// The version a writer records for a trace with this header: at least 3 (compact token
    /// index lists) for more than 65536 tokens, where lists get long and indices need 32 bits;
    /// otherwise the oldest that can hold it, so shorter traces keep the bytes older writers
    /// gave them.
    pub fn format_version(&self) -> u32 {
        if self.prompt_tokens as u64 + self.generated_tokens as u64 > 1 << 16 {
            self.min_version().max(3)
        } else {
            self.min_version()
        }
    }

    /// Sequences of the batch (1 when the trace does not say).
    pub fn batch(&self) -> u32 {
        self.batch.unwrap_or(1)
    }

    /// The design this trace's reference ran for.
    pub fn design(&self) -> ReferenceDesign {
        ReferenceDesign {
            softmax_key_tile_rows: self.softmax_key_tile_rows,
            value_topk_entries: self.value_topk_entries,
        }
    }

    /// The oldest version whose header can say what this one says (`kv_heads` needs 2,
    /// `softmax_key_tile_rows` 4, `batch` 5, `value_topk_entries` 6).
    pub fn min_version(&self) -> u32 {
        if self.value_topk_entries.is_some() {
            6
        } else if self.batch.is_some() {
            5
        } else if self.softmax_key_tile_rows.is_some() {
            4
        } else if self.kv_heads.is_some() {
            2
        } else {
            1
        }
    }
}

/// One head processed by the accelerator: iteration 0 is the summarization of the prompt
/// (all query rows at once); iteration i >= 1 generates token i with one query row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadCall {
    pub iteration: u32,
    /// The sequence of the batch (0 unless the header's batch is above one).
    pub sequence: u32,
    pub layer: u32,
    pub head: u32,
    /// Query rows processed (the surviving prompt tokens, or 1 in generation).
    pub queries: u32,
    /// Bits per fetched query element (12 on chip; the public traces say -1 = 16 bit).
    pub query_bits: u8,
    /// Surviving key rows (token indices, ascending): the K rows fetched and scored.
    pub keys: Vec<u32>,
    /// V rows fetched (ascending subset of `keys`; smaller under local V pruning).
    pub values: Vec<u32>,
    /// Width of the K and V MSB planes fetched first.
    pub key_msb_bits: u8,
    pub value_msb_bits: u8,
    /// Width of the LSB planes (0 = none stored).
    pub lsb_bits: u8,
    /// Query rows whose largest probability fell below the requant threshold.
    pub requant_rows: u32,
    /// Whether the K and V LSB planes of `keys` / `values` were fetched and the head was
    /// recomputed with merged MSB+LSB values.
    pub lsb_refetch: bool,
    /// Whether attention probabilities were added to the token importance scores.
    pub accumulate_importance: bool,
    /// Index into `AttentionTrace::topk_calls` of the local V pruning call, if any.
    pub value_topk: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopkPurpose {
    Token,
    Head,
    LocalValue,
    /// A query-aware policy's page selection (Quest): n pages in, k kept; referenced by no
    /// record (format minor version 1).
    Page,
}

/// One run of a quick-select top-k engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopkCall {
    pub purpose: TopkPurpose,
    /// Elements in, elements kept.
    pub n: u32,
    pub k: u32,
    /// Elements streamed through the comparators in each quick-select round, in order.
    /// The filter pass over all n elements follows and is not listed.
    pub rounds: Vec<u32>,
    /// A hierarchical selection's quick-selects in the order they ran (SPEC.md 6.4): the
    /// tiles of the candidates, then each level over the winners; their rounds are `rounds`
    /// in turn. Empty = one quick-select over all n (then `rounds` and one filter pass over
    /// n are the whole call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<TopkStage>,
}

/// One quick-select of a hierarchical selection: `n` candidates in, `k` winners out, over
/// `rounds` of its call's rounds, then a filter pass over the n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopkStage {
    pub n: u32,
    pub k: u32,
    pub rounds: u32,
}

impl TopkStage {
    /// The (n, k) of each quick-select of a selection of `k` of `n` candidates by an engine
    /// holding `capacity` (SPEC.md 6.4): tiles of `capacity` candidates in order (the last
    /// one shorter), each keeping `min(k, tile)` winners, the winners in order again as
    /// candidates, until they fit; then one quick-select of `k` over them. Empty when the
    /// selection fits (`n <= capacity`), or cannot shrink (`k >= capacity`).
    pub fn plan(n: u32, k: u32, capacity: u32) -> Vec<(u32, u32)> {
        let mut stages = Vec::new();
        if n <= capacity || k >= capacity {
            return stages;
        }
        let mut m = n;
        while m > capacity {
            let mut winners = 0;
            let mut left = m;
            while left > 0 {
                let tile = left.min(capacity);
                stages.push((tile, k.min(tile)));
                winners += k.min(tile);
                left -= tile;
            }
            m = winners;
        }
        stages.push((m, k));
        stages
    }
}

impl TopkCall {
    /// Its quick-selects as (n, k, rounds): the stages, or the one over all n.
    pub fn stage_list(&self) -> Vec<TopkStage> {
        if self.stages.is_empty() {
            vec![TopkStage {
                n: self.n,
                k: self.k,
                rounds: self.rounds.len() as u32,
            }]
        } else {
            self.stages.clone()
        }
    }

    /// The candidates of its last quick-select, whose filter pass emits the kept elements.
    pub fn final_candidates(&self) -> u32 {
        self.stages.last().map_or(self.n, |s| s.n)
    }
}

/// The pruning decisions taken after one layer of one iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub iteration: u32,
    /// The sequence of the batch whose tokens and heads these are.
    pub sequence: u32,
    pub layer: u32,
    /// Tokens alive after this layer (ascending).
    pub tokens_kept: Vec<u32>,
    /// Heads alive after this layer (ascending).
    pub heads_kept: Vec<u32>,
    pub token_topk: Option<u32>,
    pub head_topk: Option<u32>,
}

/// A whole workload's attention trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionTrace {
    pub header: TraceHeader,
    /// In execution order: by iteration, then layer, then sequence, then head.
    pub head_calls: Vec<HeadCall>,
    /// In execution order, one per (iteration, layer, sequence).
    pub layers: Vec<LayerRecord>,
    pub topk_calls: Vec<TopkCall>,
}
