//! The K/V tile geometry of a design point, in rows of one head: what both the up-front
//! feasibility check of a workload (`config::check_feasible`, before the reference runs) and
//! the simulator (`hw::tiling`, `hw::validate`, on the trace) derive from the arch, so the two
//! apply the same rules.

use super::ArchConfig;
use super::arch::{ScoreOverflow, TiledSummarization};
use crate::trace::ReferenceDesign;

/// Bits a spilled exponential takes in DRAM: a Q.24 value up to 2^24 in a 32-bit word.
pub const SPILL_EXP_BITS: u32 = 32;

/// Bits an exponential takes in the softmax buffer: Q.24 with E(0) = 2^24 exactly.
pub const SCORE_BUFFER_BITS: u32 = 25;

/// Bits a candidate takes in the local-V engine's own storage
/// (`topk_value.candidate_entries`): a 12-bit probability and its key position within the
/// row (17 bits, rows of up to 2^17 keys), which the winners keep for the V fetch.
pub const VALUE_CANDIDATE_BITS: u32 = 12 + 17;

/// On-chip bytes per SRAM bank (half the SRAM when double-buffered).
pub fn bank_bytes(total: u64, double_buffered: bool) -> u64 {
    if double_buffered { total / 2 } else { total }
}

/// What the reference needs of the design point `arch` to make its trace for heads of
/// `head_dim`: [`TilePlan::reference_key_tile`] and the local-V engine's candidates.
pub fn reference_design(arch: &ArchConfig, head_dim: u32) -> ReferenceDesign {
    ReferenceDesign {
        softmax_key_tile_rows: TilePlan::new(arch, head_dim).reference_key_tile(),
        value_topk_entries: arch.topk_value.candidate_entries,
    }
}

/// Tile sizes of a design point, in rows of one head.
#[derive(Debug, Clone, Copy)]
pub struct TilePlan {
    pub key_tile_rows: u32,
    pub value_tile_rows: u32,
    /// Tiles of one stream in SRAM at once: 2 double-buffered, 1 otherwise.
    pub key_tiles_in_flight: u32,
    pub value_tiles_in_flight: u32,
    /// `softmax.score_buffer_entries`.
    pub score_entries: u32,
    /// `softmax.overflow = "spill"`: generation rows beyond the buffer spill to DRAM.
    pub spill: bool,
    /// `softmax.tiled_summarization = "two-pass"`: a block streams K twice.
    pub two_pass: bool,
}

impl TilePlan {
    pub fn new(arch: &ArchConfig, head_dim: u32) -> Self {
        let row_bytes = (head_dim as u64 * arch.bitwidth_converter.output_bits as u64 / 8).max(1);
        let rows = |sram: u64, double: bool| {
            (bank_bytes(sram, double) / row_bytes).clamp(1, u32::MAX as u64) as u32
        };
        Self {
            key_tile_rows: rows(arch.qk.key_sram_bytes, arch.qk.double_buffered),
            value_tile_rows: rows(arch.pv.value_sram_bytes, arch.pv.double_buffered),
            key_tiles_in_flight: if arch.qk.double_buffered { 2 } else { 1 },
            value_tiles_in_flight: if arch.pv.double_buffered { 2 } else { 1 },
            score_entries: arch.softmax.score_buffer_entries,
            spill: arch.softmax.overflow == ScoreOverflow::Spill,
            two_pass: arch.softmax.tiled_summarization == TiledSummarization::TwoPass,
        }
    }

    /// The key tile over which the reference sums rows of calls with many query rows online
    /// (a two-pass design), `None` when every sum is exact: what the design changes in the
    /// arithmetic (SPEC.md 9b).
    pub fn reference_key_tile(&self) -> Option<u32> {
        self.two_pass.then_some(self.key_tile_rows)
    }

    /// K streams per query block of a tiled summarization call: 2 in a two-pass design.
    pub fn key_passes(&self) -> u32 {
        if self.two_pass { 2 } else { 1 }
    }

    /// Softmax buffer entries a tiled summarization block of one row needs for `keys` keys:
    /// two rows' exponentials, or in a two-pass design a row's running max and sum beside two
    /// tile rows of scores (the one whose maximum is being found and the one being summed).
    pub fn min_block_entries(&self, keys: usize) -> u64 {
        if self.two_pass {
            2 * self.key_tile_rows as u64 + 2
        } else {
            2 * keys as u64
        }
    }

    /// Whether a call of `keys` K rows and `values` V rows streams them in tiles (more rows
    /// than a bank).
    pub fn tiles(&self, keys: u64, values: u64) -> bool {
        keys > self.key_tile_rows as u64 || values > self.value_tile_rows as u64
    }

    /// Whether a tiled generation row of `keys` keys, summed side by side with the other
    /// rows of its interleaved K/V group (`group_rows` in all), keeps every exponential.
    pub fn generation_fits(&self, keys: u64, group_rows: u64) -> bool {
        keys * group_rows <= self.score_entries as u64
    }

    /// The exponentials a tiled generation row of `keys` keys keeps on chip when they do not
    /// all fit and the design spills the rest (`softmax.overflow = "spill"`): its share of
    /// the buffer, `entries / group_rows`. `None` when they fit, or when the design refuses
    /// such rows.
    pub fn generation_spill_quota(&self, keys: u64, group_rows: u64) -> Option<u32> {
        (self.spill && !self.generation_fits(keys, group_rows))
            .then(|| (self.score_entries as u64 / group_rows.max(1)) as u32)
    }

    /// Whether a tiled generation row of `keys` keys can run: its exponentials fit, or the
    /// design spills the rest.
    pub fn generation_runs(&self, keys: u64, group_rows: u64) -> bool {
        self.spill || self.generation_fits(keys, group_rows)
    }

    /// Query rows of a summarization block for `keys` keys: two blocks' exponentials fit
    /// the softmax buffer, or in a two-pass design the block's running maxima and sums
    /// beside two tile rows of scores (0 when not even one row does).
    pub fn block_rows(&self, keys: usize) -> u64 {
        let entries = self.score_entries as u64;
        if self.two_pass {
            entries.saturating_sub(2 * self.key_tile_rows as u64) / 2
        } else {
            entries / (2 * keys as u64).max(1)
        }
    }

    /// Whether tiled summarization streams K and V in tiles of the same rows, as it must.
    pub fn tiles_line_up(&self) -> bool {
        (self.key_tile_rows, self.key_tiles_in_flight)
            == (self.value_tile_rows, self.value_tiles_in_flight)
    }

    /// An upper bound on the transactions of the K stream (the longer one) of a tiled
    /// summarization call of `queries` query rows and `keys` keys of `bits`-bit elements:
    /// every block streams all keys ([`Self::key_passes`] times), each row taking at most one
    /// transaction more than its width (rows need not start on a transaction). The simulator
    /// counts a fetch job's transactions in 32 bits.
    pub fn restream_transactions(
        &self,
        queries: u64,
        keys: u64,
        head_dim: u64,
        bits: u64,
        transaction_bytes: u64,
    ) -> u64 {
        let rows = self.block_rows(keys as usize).clamp(1, queries.max(1));
        queries.div_ceil(rows)
            * self.key_passes() as u64
            * keys
            * (head_dim * bits)
                .div_ceil(8 * transaction_bytes)
                .saturating_add(1)
    }
}
