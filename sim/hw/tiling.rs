//! K/V tiling: a head call whose K (or V) rows exceed one SRAM bank streams them through the
//! SRAM in tiles of one bank each.
//!
//! Model:
//! - A tile is one bank of rows (`qk.key_sram_bytes` / `pv.value_sram_bytes`, halved when
//!   double-buffered, over `head_dim x bitwidth_converter.output_bits` bits per row). A tiled
//!   call takes the whole SRAM: it opens only when no other call holds a bank, and with
//!   double buffering tile i + 1 is fetched into one bank while tile i is consumed from the
//!   other (two tiles in flight); single-buffered, the next tile starts when the unit is
//!   done with the current one. The fetcher may start a row only below
//!   `(tiles consumed + tiles in flight) x tile rows` ([`super::fetcher::FetchJob::row_limit`];
//!   for a job that repeats its rows once per query block, tiles restart at each block,
//!   [`TiledJob::row_limit`]).
//! - A beat of Q x K or Prob x V never spans two tiles: it ends at the tile's last row, so a
//!   tile of fewer rows than a beat (or not a multiple of it) costs partial beats instead of
//!   waiting for rows the SRAM has no room for yet.
//! - K is consumed by Q x K, V by Prob x V. Every score is kept (the softmax holds the row's
//!   exponentials, as for untiled calls, in `softmax.score_buffer_entries`: a generation
//!   row needs C of them, an interleaved GQA group one row per query head; a design with
//!   `softmax.overflow = "spill"` keeps the row's share on chip and spills the rest to DRAM,
//!   [`super::spill`]), so the arithmetic, and the reference's result, are those of the
//!   untiled call: tiling changes when rows arrive, not what is computed.
//! - Generation (one query row): K then V stream once. A tiled call's V rows are requested
//!   when it opens, as its K rows are; a job waiting for SRAM room lets the jobs behind it go
//!   ahead (the fetcher), so a V stream waiting for Prob x V never holds back the K refetch
//!   of an LSB recompute. On an LSB refetch the K MSB rows are gone (only the last tiles stay), so the
//!   recompute streams the K MSB plane again with the LSB plane; that second MSB stream is
//!   charged as an LSB-refetch cost (`bytes_by_cause.lsb_refetch`).
//! - Summarization (many query rows reuse every key): the query rows run in [`Blocks`] of
//!   `score_buffer_entries / (2 C)` rows (the softmax holds one block's exponentials while it
//!   sums them and the previous block's while they leave). For each block K and V stream
//!   once, tile by tile: QxK scores a K tile for every row of the block before the next tile,
//!   so the softmax sums the block's rows side by side and emits them when the last tile is
//!   scored, in the order they were scored (tile by tile, each tile row by row), and ProbxV
//!   consumes them in that order against the V tile of the same rows. So K and V come from
//!   DRAM once per block: `ceil(N / rows) x C` rows each. The probabilities are those of the
//!   untiled call (each row's softmax runs over all its keys). ProbxV keeps one partial
//!   output row per query row of the block (rows x D accumulators); the Q rows are fetched
//!   once, in order, as for untiled calls (the query buffer is not an arch parameter). Needs
//!   key and value tiles of equal rows, a V row per key and no LSB recompute (checked,
//!   exit 2).
//! - Two-pass summarization (`softmax.tiled_summarization = "two-pass"`): the softmax keeps
//!   per row only a running max and sum (beside two tile rows of scores whose maximum it
//!   finds before exponentiating them), so a block has `(entries - 2 x key tile rows) / 2`
//!   rows, and K streams twice per block: QxK scores the block tile by tile (each tile row by
//!   row) for the online sums, then again, and the second pass's scores stream through the
//!   softmax into ProbxV in the same order as above (`Blocks::key_passes`, `Chunk::sum_only`).
//!   So K comes from DRAM `2 x ceil(N / rows) x C` rows, V `ceil(N / rows) x C`, and QxK does
//!   twice the untiled work; the sums round as SPEC.md 9b states, and the trace must say so.
//! - By default a tiled call does not share its fetches within a K/V group ([`super::gqa`]):
//!   the tiles of the first query head are gone when the next one runs, so each streams the
//!   union. With `controller.interleave_group_tiles` a group of generation calls shares one
//!   K-MSB stream, QxK scoring each tile for every query head of the group before it leaves;
//!   a tile leaves when the group's last query head is done with it. Their V and LSB streams
//!   stay per call and wait ([`Wait`]) until the SRAM they would take is free.

use serde::{Deserialize, Serialize};

use crate::trace::attention::{AttentionTrace, HeadCall};

pub use crate::config::tiles::TilePlan;

/// The query blocks of a tiled summarization call: `rows` query rows a block (the last one
/// may have fewer), each block streaming the call's `keys` K and V rows once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocks {
    pub rows: u32,
    pub queries: u32,
    pub keys: u32,
    /// K streams per block: 1, or 2 in a two-pass design (the first only sums).
    pub key_passes: u32,
}

impl Blocks {
    pub fn count(&self) -> u32 {
        self.queries.div_ceil(self.rows)
    }

    /// Query rows of block `b`.
    pub fn rows_in(&self, b: u32) -> u32 {
        self.rows.min(self.queries - b * self.rows)
    }

    /// Scores (and probabilities) of block `b`, in one pass over its keys.
    pub fn elements(&self, b: u32) -> u32 {
        self.rows_in(b) * self.keys
    }

    /// Whether each block's first K pass only sums (a two-pass design).
    pub fn two_pass(&self) -> bool {
        self.key_passes > 1
    }

    /// The first row of the repeated K job for pass `pass` of block `b`.
    pub fn key_job_start(&self, b: u32, pass: u32) -> u32 {
        (b * self.key_passes + pass) * self.keys
    }

    /// Where element `i` of the call's probability stream (blocks in order, each tile by
    /// tile with `tile_rows` keys a tile, each tile row by row) falls: (key row of the
    /// repeated K/V job, elements left in its row of the tile, K/V job rows every row of the
    /// block is done with).
    pub fn locate(&self, i: u64, tile_rows: u32) -> (u64, u32, u64) {
        let (keys, t) = (self.keys as u64, tile_rows as u64);
        let block = i / (self.rows as u64 * keys);
        let rows = self.rows_in(block as u32) as u64;
        let local = i - block * self.rows as u64 * keys;
        let tile = local / (rows * t);
        let width = t.min(keys - tile * t);
        let within = local - tile * rows * t;
        let (row, off) = (within / width, within % width);
        let key = tile * t + off;
        let done = block * keys + tile * t + if row + 1 == rows { off } else { 0 };
        (block * keys + key, (width - off) as u32, done)
    }
}

impl TilePlan {
    /// Whether `hc` streams its K or V rows in tiles (more rows than a bank).
    pub fn tiled(&self, hc: &HeadCall) -> bool {
        self.tiles(hc.keys.len() as u64, hc.values.len() as u64)
    }

    /// The query blocks of `hc` when it is a tiled summarization call.
    pub fn blocks(&self, hc: &HeadCall) -> Option<Blocks> {
        (hc.queries > 1 && self.tiled(hc)).then(|| Blocks {
            rows: (self.block_rows(hc.keys.len()) as u32).clamp(1, hc.queries),
            queries: hc.queries,
            keys: hc.keys.len() as u32,
            key_passes: self.key_passes(),
        })
    }
}

/// Which unit consumes a tiled job's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// Q x K, on the MSB pass or the LSB (recompute) pass.
    Qk {
        lsb: bool,
    },
    Pv,
}

/// What a tiled job of an interleaved group waits for before it may fetch a row: the SRAM
/// room it would take is held by another call of its group until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// ProbxV has finished this call (whose V tiles hold the value SRAM).
    Pv(u32),
    /// QxK has finished the group's shared MSB pass, whose last call this is (its tiles hold
    /// the key SRAM).
    QkMsb(u32),
}

/// A fetch job streaming through SRAM in tiles.
#[derive(Debug, Clone, Copy)]
pub struct TiledJob {
    pub call: u32,
    pub consumer: Consumer,
    pub tile_rows: u32,
    pub tiles_in_flight: u32,
    pub wait: Option<Wait>,
    /// Rows of one pass over the call's rows when the job repeats them (a summarization
    /// block each), whose tiles start afresh at each pass; `u32::MAX` for one pass.
    pub period: u32,
}

impl TiledJob {
    /// The first row the SRAM has no room for once `consumed` rows are done with: the
    /// tiles in flight after the last fully consumed tile (tiles of a pass start at the
    /// pass, the last one of a pass being partial).
    pub fn row_limit(&self, consumed: u32) -> u32 {
        let (t, p, c) = (self.tile_rows as u64, self.period as u64, consumed as u64);
        let per_pass = p.div_ceil(t);
        let tile = c / p * per_pass + c % p / t + self.tiles_in_flight as u64;
        let limit = tile / per_pass * p + tile % per_pass * t;
        limit.min(u32::MAX as u64) as u32
    }
}

/// What streamed through the SRAM in tiles, over the whole trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TilingStats {
    /// Generation head calls (one query row) whose K/V streamed in tiles.
    pub generation_calls: u64,
    /// Summarization head calls that ran in query blocks, and their blocks (each streams its
    /// call's K and V once).
    pub summarization_calls: u64,
    pub query_blocks: u64,
    /// The most query rows a block held.
    pub max_block_rows: u32,
    /// Whether the blocks streamed K twice (a two-pass design).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub two_pass: bool,
}

/// [`TilingStats`] of `trace` (as the simulator runs it: grouped heads on the shared view),
/// or `None` when no call is tiled.
pub fn stats(trace: &AttentionTrace, plan: &TilePlan) -> Option<TilingStats> {
    let mut s = TilingStats::default();
    for c in trace.head_calls.iter().filter(|c| plan.tiled(c)) {
        match plan.blocks(c) {
            Some(b) => {
                s.summarization_calls += 1;
                s.query_blocks += b.count() as u64;
                s.max_block_rows = s.max_block_rows.max(b.rows);
                s.two_pass = b.two_pass();
            }
            None => s.generation_calls += 1,
        }
    }
    (s != TilingStats::default()).then_some(s)
}
