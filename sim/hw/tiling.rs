//! K/V tiling for generation: a head call with one query row whose K (or V) rows exceed one
//! SRAM bank streams them through the SRAM in tiles of one bank each.
//!
//! Model:
//! - A tile is one bank of rows (`qk.key_sram_bytes` / `pv.value_sram_bytes`, halved when
//!   double-buffered, over `head_dim x bitwidth_converter.output_bits` bits per row). A tiled
//!   call takes the whole SRAM: it opens only when no other call holds a bank, and with
//!   double buffering tile i + 1 is fetched into one bank while tile i is consumed from the
//!   other (two tiles in flight); single-buffered, the next tile starts when the unit is
//!   done with the current one. The fetcher may start a row only below
//!   `(tiles consumed + tiles in flight) x tile rows` ([`super::fetcher::FetchJob::row_limit`]).
//! - K is consumed by Q x K, V by Prob x V. Every score is kept (the softmax holds the row's
//!   exponentials, as for untiled calls), so the arithmetic, and the reference's result, are
//!   those of the untiled call: tiling changes when rows arrive, not what is computed.
//! - A tiled call's V rows are requested after its requant decision when it may refetch LSBs
//!   (`lsb_bits > 0`), so that the K refetch is not queued behind a V stream that waits for
//!   Prob x V, which waits for the K refetch. On an LSB refetch the K MSB rows are gone (only
//!   the last tiles stay), so the recompute streams the K MSB plane again with the LSB plane;
//!   that second MSB stream is charged as an LSB-refetch cost (`bytes_by_cause.lsb_refetch`).
//! - Summarization calls (many query rows reuse every key) must still fit one bank; key
//!   tiling there needs an online or two-pass softmax, which is not modelled.
//! - By default a tiled call does not share its fetches within a K/V group ([`super::gqa`]):
//!   the tiles of the first query head are gone when the next one runs, so each streams the
//!   union. With `controller.interleave_group_tiles` the group's calls share one K-MSB stream,
//!   QxK scoring each tile for every query head of the group before it leaves; a tile leaves
//!   when the group's last query head is done with it. Their V and LSB streams stay per call
//!   and wait ([`Wait`]) until the SRAM they would take is free.

use crate::config::ArchConfig;
use crate::trace::attention::HeadCall;

use super::validate::bank_bytes;

/// Tile sizes of a design point, in rows of one head.
#[derive(Debug, Clone, Copy)]
pub struct TilePlan {
    pub key_tile_rows: u32,
    pub value_tile_rows: u32,
    /// Tiles of one stream in SRAM at once: 2 double-buffered, 1 otherwise.
    pub key_tiles_in_flight: u32,
    pub value_tiles_in_flight: u32,
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
        }
    }

    /// Whether `hc` streams its K or V rows in tiles (one query row, more rows than a bank).
    pub fn tiled(&self, hc: &HeadCall) -> bool {
        hc.queries == 1
            && (hc.keys.len() as u64 > self.key_tile_rows as u64
                || hc.values.len() as u64 > self.value_tile_rows as u64)
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
}

impl TiledJob {
    /// The first row the SRAM has no room for once `consumed` rows are done with: the
    /// tiles in flight after the last fully consumed tile.
    pub fn row_limit(&self, consumed: u32) -> u32 {
        let tiles = consumed / self.tile_rows + self.tiles_in_flight;
        tiles.saturating_mul(self.tile_rows)
    }
}
