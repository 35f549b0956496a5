//! The ProbxV unit: `multipliers / D` probabilities per cycle, each broadcast over D
//! multipliers; D adder trees of `multipliers / D` inputs (ceil(log2) stages), then the
//! accumulator. A beat of probabilities for V rows [i, i + n) of a query row needs those V
//! rows in SRAM (MSB, and LSB too when the head was refetched). The head is finished when its
//! last beat leaves the accumulator. A tiled summarization call's probabilities come block by
//! block, each tile by tile and row by row ([`super::tiling::Blocks`]); each beat needs the V
//! rows of its tile, which the call's V job streams once per block.

use super::Chunk;
use super::controller::HeadRt;
use super::fetcher::FetchJob;
use super::fifo::{DelayLine, Fifo};
use super::stats::Activity;
use super::stride::{Stride, cycles_before, cycles_below};
use super::tiling::Blocks;
use crate::trace::attention::HeadCall;

#[derive(Debug)]
pub struct PvUnit {
    probs_per_cycle: u32,
    head_dim: u64,
    latency_cycles: u64,
    /// Probabilities of the current head consumed so far.
    consumed: u64,
    /// The head being consumed, and the last one finished (heads run in call order).
    current: Option<u32>,
    last_done: Option<u32>,
    done: DelayLine<u32>,
    /// Per call, its query blocks when it is a tiled summarization call, and their tile rows.
    blocks: Vec<Option<Blocks>>,
    tile_rows: u32,
    /// Rows of a V tile: a beat never spans two (the next may not be in SRAM yet).
    value_tile_rows: u64,
    pub macs: u64,
}

impl PvUnit {
    pub fn new(cfg: &crate::config::arch::PvConfig, head_dim: u32) -> Self {
        let probs_per_cycle = cfg.multipliers / head_dim;
        let tree_stages = probs_per_cycle.next_power_of_two().trailing_zeros() as u64;
        Self {
            probs_per_cycle,
            head_dim: head_dim as u64,
            latency_cycles: tree_stages + cfg.accumulate_latency_cycles as u64,
            consumed: 0,
            current: None,
            last_done: None,
            done: DelayLine::default(),
            blocks: Vec::new(),
            tile_rows: u32::MAX,
            value_tile_rows: u64::MAX,
            macs: 0,
        }
    }

    /// Takes tiled summarization calls' probabilities (`blocks`, per call) in their order,
    /// with `tile_rows` keys a tile.
    pub fn with_blocks(mut self, blocks: Vec<Option<Blocks>>, tile_rows: u32) -> Self {
        if blocks.iter().any(Option::is_some) {
            self.blocks = blocks;
            self.tile_rows = tile_rows.max(1);
        }
        self
    }

    /// V tiles of `rows` rows, as the value SRAM holds them.
    pub fn with_value_tiles(mut self, rows: u32) -> Self {
        self.value_tile_rows = rows.max(1) as u64;
        self
    }

    /// For the current head's next probability: the V job row it multiplies, the
    /// probabilities left in its run of consecutive V rows (up to its V tile's end), and the
    /// V job rows done with.
    fn position(&self, call: u32, hc: &HeadCall) -> (u64, u64, u64) {
        match self.blocks.get(call as usize).copied().flatten() {
            Some(b) => {
                let (row, left, done) = b.locate(self.consumed, self.tile_rows);
                (row, left as u64, done)
            }
            None => {
                let row = hc.values.len() as u64;
                let pos = self.consumed % row;
                let tile_end =
                    (pos / self.value_tile_rows + 1).saturating_mul(self.value_tile_rows);
                (pos, row.min(tile_end) - pos, self.consumed)
            }
        }
    }

    /// Rows of the V job of `call` the unit is done with, out of `rows` (for V streaming
    /// through SRAM in tiles: one query row, or query blocks whose job repeats the values).
    pub fn consumed_rows(&self, call: u32, calls: &[HeadCall], rows: u32) -> u32 {
        if self.current == Some(call) {
            self.position(call, &calls[call as usize]).2 as u32
        } else if self.last_done.is_some_and(|d| d >= call) {
            rows
        } else {
            0
        }
    }

    /// Whether the unit is done with `call` (calls run in order).
    pub fn finished(&self, call: u32) -> bool {
        self.last_done.is_some_and(|d| d >= call)
    }

    pub fn next_event(&self) -> Option<u64> {
        self.done.next_ready()
    }

    pub fn is_drained(&self) -> bool {
        self.consumed == 0 && self.done.is_empty()
    }

    pub fn describe(&self) -> String {
        format!("pv consumed {} of the current head", self.consumed)
    }

    /// What each of the next cycles does while the beats stay within the V row, their V
    /// rows are in SRAM and the head does not finish (see `stride`).
    pub fn stride(
        &self,
        now: u64,
        calls: &[HeadCall],
        heads: &[HeadRt],
        jobs: &[FetchJob],
        input: &Fifo<Chunk>,
    ) -> Option<Stride> {
        let due = cycles_before(now, self.done.next_ready());
        let Some((&chunk, have)) = input.front() else {
            let activity = Activity::without_input(self.consumed > 0, !self.done.is_empty());
            return Stride::still(due, activity).nonzero();
        };
        let hc = &calls[chunk.call as usize];
        let h = &heads[chunk.call as usize];
        let row = hc.values.len() as u64;
        let (pos, left, _) = self.position(chunk.call, hc);
        let n = (self.probs_per_cycle as u64).min(have as u64).min(left);
        if n != have as u64 {
            return None;
        }
        let rows = |j: Option<usize>| j.map_or(0, |j| jobs[j].rows_ready as u64);
        // Beat k covers V rows up to pos + k n: within the run, loaded, and not the head's last.
        let mut cycles = cycles_below(0, n, left + 1)
            .min(cycles_below(self.consumed, n, hc.queries as u64 * row))
            .min(rows(h.v_job).saturating_sub(pos) / n)
            .min(due);
        if hc.lsb_refetch {
            cycles = cycles.min(rows(h.v_lsb_job).saturating_sub(pos) / n);
        }
        Stride::moving(cycles, Some((chunk, have)), [None; 3]).nonzero()
    }

    /// Applies `cycles` cycles of `stride`.
    pub fn repeat(&mut self, s: &Stride, cycles: u64) {
        if let Some((chunk, n)) = s.take {
            self.current = Some(chunk.call);
            self.consumed += n as u64 * cycles;
            self.macs += n as u64 * cycles * self.head_dim;
        }
    }

    pub fn step(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        heads: &[HeadRt],
        jobs: &[FetchJob],
        input: &mut Fifo<Chunk>,
        finished: &mut Vec<u32>,
    ) -> (Activity, bool) {
        let mut progress = false;
        while let Some(call) = self.done.pop_ready(now) {
            finished.push(call);
            progress = true;
        }
        let Some((&chunk, have)) = input.front() else {
            let a = Activity::without_input(self.consumed > 0, !self.done.is_empty());
            return (a, progress);
        };
        let hc = &calls[chunk.call as usize];
        let h = &heads[chunk.call as usize];
        let row = hc.values.len() as u64;
        let (pos, left, _) = self.position(chunk.call, hc);
        let n = self.probs_per_cycle.min(have).min(left as u32);
        let need = pos + n as u64;
        let ready = |j: Option<usize>| j.is_some_and(|j| jobs[j].rows_ready as u64 >= need);
        if !ready(h.v_job) || (hc.lsb_refetch && !ready(h.v_lsb_job)) {
            return (Activity::StalledInput, progress);
        }
        input.take(now, n);
        self.macs += n as u64 * self.head_dim;
        self.consumed += n as u64;
        self.current = Some(chunk.call);
        if self.consumed == hc.queries as u64 * row {
            self.consumed = 0;
            self.current = None;
            self.last_done = Some(chunk.call);
            self.done.push(now + self.latency_cycles, chunk.call);
        }
        (Activity::Busy, true)
    }
}
