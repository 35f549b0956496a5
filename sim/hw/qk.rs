//! The Q x K unit: `multipliers / D` scores per cycle (one adder tree of D inputs per key),
//! one query row at a time (a tiled summarization call's query block: tile by tile, each
//! tile row by row; in a two-pass design twice, the first pass's scores only summed); a
//! pipeline of broadcast + multiply + ceil(log2 D) tree stages.
//! A beat needs its query row and its key rows in SRAM (and, on the LSB pass, the keys'
//! LSB rows too), and a free pipeline stage: beats leave the pipeline in order into the
//! softmax FIFO, and when it is full the pipeline holds them (one per stage) and stalls.
//!
//! An interleaved group (`controller.interleave_group_tiles`, [`super::tiling`]) runs as one
//! pass over its calls' MSB passes: each key tile is scored for the group's first call, then
//! for the next, ..., before the next tile, so one K stream serves them all. Scores then
//! reach the softmax one tile of one row at a time (it sums the rows side by side).

use std::collections::VecDeque;

use super::Chunk;
use super::controller::HeadRt;
use super::fetcher::FetchJob;
use super::fifo::{DelayLine, Fifo};
use super::stats::Activity;
use super::stride::{Stride, cycles_below};
use super::tiling::Blocks;
use crate::trace::attention::HeadCall;

#[derive(Debug)]
struct Pass {
    call: u32,
    lsb: bool,
    query: u32,
    key_pos: u32,
    /// The group's first call and its number of calls (1 for a pass of one call).
    first: u32,
    members: u32,
    /// The first key row of the tile being scored (interleaved groups, query blocks).
    tile_start: u32,
    /// A tiled summarization call's query blocks, the block being scored and the row of it.
    blocks: Option<Blocks>,
    block: u32,
    block_row: u32,
    /// The block's K pass (0 or 1: a two-pass design's first pass only sums).
    phase: u32,
}

impl Pass {
    fn new(call: u32, lsb: bool, members: u32, blocks: Option<Blocks>) -> Self {
        Self {
            call,
            lsb,
            query: 0,
            key_pos: 0,
            first: call,
            members,
            tile_start: 0,
            blocks,
            block: 0,
            block_row: 0,
            phase: 0,
        }
    }

    fn chunk(&self) -> Chunk {
        Chunk {
            call: self.call,
            lsb: self.lsb,
            block: self.block,
            sum_only: self.blocks.is_some_and(|b| self.phase + 1 < b.key_passes),
        }
    }

    /// The end of the key rows this call scores before the pass moves on: the row's end, or
    /// in an interleaved group or a query block the tile's; and no beat goes past the end of
    /// the key tile it starts in (a tiled call's next tile may not be in SRAM yet: beats
    /// that spanned tiles could wait forever for rows the SRAM has no room for).
    fn key_end(&self, keys: u32, tile_rows: u32) -> u32 {
        let tile_end = if self.members > 1 || self.blocks.is_some() {
            self.tile_start.saturating_add(tile_rows)
        } else {
            (self.key_pos / tile_rows + 1).saturating_mul(tile_rows)
        };
        keys.min(tile_end)
    }

    /// The K job row of key `key_pos`: a tiled summarization call's K job repeats its keys
    /// once per block and K pass.
    fn job_row(&self) -> u32 {
        self.pass_start() + self.key_pos
    }

    /// The K job row where the current block's current K pass starts.
    fn pass_start(&self) -> u32 {
        self.blocks
            .map_or(0, |b| b.key_job_start(self.block, self.phase))
    }

    /// After the current (row, tile) of a query block: the block's next row on the same
    /// tile, or its first row on the next tile, or its next K pass, or the next block; false
    /// when the pass is done.
    fn next_in_block(&mut self, b: &Blocks, end: u32) -> bool {
        if self.block_row + 1 < b.rows_in(self.block) {
            self.block_row += 1;
            self.query += 1;
            self.key_pos = self.tile_start;
        } else if end < b.keys {
            self.tile_start = end;
            self.block_row = 0;
            self.query = self.block * b.rows;
        } else if self.phase + 1 < b.key_passes {
            self.phase += 1;
            self.block_row = 0;
            self.query = self.block * b.rows;
            self.tile_start = 0;
            self.key_pos = 0;
        } else if self.block + 1 < b.count() {
            self.block += 1;
            self.phase = 0;
            self.block_row = 0;
            self.query = self.block * b.rows;
            self.tile_start = 0;
            self.key_pos = 0;
        } else {
            return false;
        }
        true
    }
}

#[derive(Debug)]
pub struct QkUnit {
    scores_per_cycle: u32,
    head_dim: u64,
    latency_cycles: u64,
    /// Passes the controller has released, in order: (head call, LSB pass).
    pub queue: VecDeque<(u32, bool)>,
    cur: Option<Pass>,
    pipe: DelayLine<(Chunk, u32)>,
    /// The last pass finished, as (call, LSB pass); passes run in this order.
    last_done: Option<(u32, bool)>,
    /// Per call, the calls of the interleaved group it leads (see
    /// [`super::controller::Controller::tile_group_sizes`]); empty without groups.
    tile_groups: Vec<u32>,
    key_tile_rows: u32,
    /// The last call whose MSB pass finished.
    msb_done: Option<u32>,
    /// Per call, its query blocks when it is a tiled summarization call.
    blocks: Vec<Option<Blocks>>,
    pub macs: u64,
    pub scores: u64,
}

impl QkUnit {
    pub fn new(cfg: &crate::config::arch::QkConfig, head_dim: u32) -> Self {
        let tree_stages = head_dim.next_power_of_two().trailing_zeros() as u64;
        Self {
            scores_per_cycle: cfg.multipliers / head_dim,
            head_dim: head_dim as u64,
            latency_cycles: cfg.broadcast_latency_cycles as u64
                + cfg.multiply_latency_cycles as u64
                + tree_stages,
            queue: VecDeque::new(),
            cur: None,
            pipe: DelayLine::default(),
            last_done: None,
            tile_groups: Vec::new(),
            key_tile_rows: u32::MAX,
            msb_done: None,
            blocks: Vec::new(),
            macs: 0,
            scores: 0,
        }
    }

    /// Key tiles of `key_tile_rows` rows (a beat never spans two of them), and the MSB
    /// passes of each interleaved group (`sizes[first]` calls from `first`) run tile by tile.
    pub fn with_tile_groups(mut self, sizes: &[u32], key_tile_rows: u32) -> Self {
        self.key_tile_rows = key_tile_rows.max(1);
        if sizes.iter().any(|&n| n > 1) {
            self.tile_groups = sizes.to_vec();
        }
        self
    }

    /// Runs tiled summarization calls (`blocks`, per call) block by block, each block's K
    /// tiles scored for every row of the block in turn (`key_tile_rows` rows a tile, as set by
    /// [`Self::with_tile_groups`] or here).
    pub fn with_blocks(mut self, blocks: Vec<Option<Blocks>>, key_tile_rows: u32) -> Self {
        if blocks.iter().any(Option::is_some) {
            self.blocks = blocks;
            self.key_tile_rows = key_tile_rows.max(1);
        }
        self
    }

    /// Whether the MSB pass of `call` is finished (MSB passes run in call order; LSB passes
    /// are re-injected between them, so `last_done` alone does not say).
    pub fn msb_finished(&self, call: u32) -> bool {
        self.msb_done.is_some_and(|d| d >= call)
    }

    /// Rows of the K job of pass (`call`, `lsb`) that the unit is done with, out of `rows`
    /// (for K streaming through SRAM in tiles; a query block's job repeats the keys once per
    /// block).
    pub fn consumed(&self, call: u32, lsb: bool, rows: u32) -> u32 {
        match &self.cur {
            // A group's tile is done with once its last call has scored it.
            Some(p) if p.members > 1 && (p.first, p.lsb) == (call, lsb) => {
                if p.call == p.first + p.members - 1 {
                    p.key_pos
                } else {
                    p.tile_start
                }
            }
            // A block's tile is done with once its last row has scored it.
            Some(p) if (p.call, p.lsb) == (call, lsb) => match &p.blocks {
                Some(b) if p.block_row + 1 < b.rows_in(p.block) => p.pass_start() + p.tile_start,
                Some(_) => p.job_row(),
                None => p.key_pos,
            },
            _ if self.last_done.is_some_and(|d| d >= (call, lsb)) => rows,
            _ => 0,
        }
    }

    pub fn next_event(&self) -> Option<u64> {
        self.pipe.next_ready()
    }

    pub fn is_drained(&self) -> bool {
        self.cur.is_none() && self.queue.is_empty() && self.pipe.is_empty()
    }

    pub fn describe(&self) -> String {
        match &self.cur {
            Some(p) => format!(
                "qk on call {} ({} pass) query {} key {}",
                p.call,
                if p.lsb { "LSB" } else { "MSB" },
                p.query,
                p.key_pos
            ),
            None => format!("qk idle, {} passes queued", self.queue.len()),
        }
    }

    /// What each of the next cycles does while the pass stays in its query row with its key
    /// rows in SRAM and the pipeline's output keeps its pace (see `stride`). The push is the
    /// beat leaving the pipeline for the score FIFO.
    pub fn stride(
        &self,
        now: u64,
        calls: &[HeadCall],
        heads: &[HeadRt],
        jobs: &[FetchJob],
    ) -> Option<Stride> {
        let (beat, mut cycles) = match &self.cur {
            None if !self.queue.is_empty() => return None,
            None => (None, u64::MAX),
            Some(p) => {
                let hc = &calls[p.call as usize];
                let h = &heads[p.call as usize];
                let n = self.scores_per_cycle as u64;
                let keys = hc.keys.len() as u32;
                let (key_pos, job_row) = (p.key_pos as u64, p.job_row() as u64);
                let rows = |j: Option<usize>| j.map_or(0, |j| jobs[j].rows_ready as u64);
                if rows(h.q_job) <= p.query as u64 {
                    return None;
                }
                // Full beats that leave the query row (or its tile) unfinished, each with its
                // key rows loaded.
                let end = p.key_end(keys, self.key_tile_rows) as u64;
                let mut cycles =
                    cycles_below(key_pos, n, end).min(rows(h.k_job).saturating_sub(job_row) / n);
                if p.lsb {
                    cycles = cycles.min(rows(h.k_lsb_job).saturating_sub(job_row) / n);
                }
                (Some((p.chunk(), n as u32)), cycles)
            }
        };
        let (out, pipe_cycles) = self
            .pipe
            .steady_output(now, beat.as_ref(), self.latency_cycles);
        cycles = cycles.min(pipe_cycles);
        let activity = if beat.is_some() || !self.pipe.is_empty() {
            Activity::Busy
        } else {
            Activity::Idle
        };
        Stride {
            cycles,
            activity,
            take: None,
            push: [out, None, None],
            pipe: beat,
        }
        .nonzero()
    }

    /// Applies `cycles` cycles of `stride` after `now`.
    pub fn repeat(&mut self, now: u64, s: &Stride, cycles: u64) {
        if let (Some(p), Some((_, n))) = (&mut self.cur, s.pipe) {
            let n = n as u64 * cycles;
            p.key_pos += n as u32;
            self.scores += n;
            self.macs += n * self.head_dim;
        }
        self.pipe.repeat(
            now,
            cycles,
            s.push[0].is_some(),
            s.pipe.as_ref(),
            self.latency_cycles,
        );
    }

    pub fn step(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        heads: &[HeadRt],
        jobs: &[FetchJob],
        out: &mut Fifo<Chunk>,
    ) -> (Activity, bool) {
        let mut progress = false;
        while let Some(&(chunk, n)) = self.pipe.peek_ready(now) {
            if !out.try_push(now, chunk, n) {
                break;
            }
            self.pipe.pop_ready(now);
            progress = true;
        }
        if self.cur.is_none() {
            let Some((call, lsb)) = self.queue.pop_front() else {
                let a = if self.pipe.is_empty() {
                    Activity::Idle
                } else {
                    Activity::Busy
                };
                return (a, progress);
            };
            let mut members = 1;
            if !lsb && self.tile_groups.get(call as usize).is_some_and(|&n| n > 1) {
                // The controller releases a group's MSB passes together, in order.
                let n = self.tile_groups[call as usize];
                for m in 1..n {
                    debug_assert_eq!(self.queue.front(), Some(&(call + m, false)));
                    if self.queue.front() != Some(&(call + m, false)) {
                        break;
                    }
                    self.queue.pop_front();
                    members += 1;
                }
            }
            let blocks = self.blocks.get(call as usize).copied().flatten();
            self.cur = Some(Pass::new(call, lsb, members, blocks));
            progress = true;
        }
        let p = self.cur.as_mut().expect("set above");
        let hc = &calls[p.call as usize];
        let h = &heads[p.call as usize];
        let keys = hc.keys.len() as u32;
        let end = p.key_end(keys, self.key_tile_rows);
        let n = self.scores_per_cycle.min(end - p.key_pos);
        let ready = |j: Option<usize>, need: u32| j.is_some_and(|j| jobs[j].rows_ready >= need);
        let row = p.job_row();
        let inputs = ready(h.q_job, p.query + 1)
            && ready(h.k_job, row + n)
            && (!p.lsb || ready(h.k_lsb_job, row + n));
        if !inputs {
            return (Activity::StalledInput, progress);
        }
        // A stalled pipeline holds at most one beat per stage.
        if self.pipe.len() as u64 >= self.latency_cycles.max(1) {
            return (Activity::StalledOutput, progress);
        }
        self.pipe.push(now + self.latency_cycles, (p.chunk(), n));
        self.macs += n as u64 * self.head_dim;
        self.scores += n as u64;
        p.key_pos += n;
        if p.members > 1 {
            if p.key_pos == end {
                // The next call of the group scores the same tile; after the last, the next
                // tile. Every call of the group has the same keys (the group's union).
                if p.call + 1 < p.first + p.members {
                    p.call += 1;
                    p.key_pos = p.tile_start;
                } else if end == keys {
                    self.last_done = Some((p.call, false));
                    self.msb_done = Some(p.call);
                    self.cur = None;
                } else {
                    p.call = p.first;
                    p.tile_start = end;
                }
            }
        } else if let Some(b) = p.blocks {
            if p.key_pos == end && !p.next_in_block(&b, end) {
                self.last_done = Some((p.call, p.lsb));
                if !p.lsb {
                    self.msb_done = Some(p.call);
                }
                self.cur = None;
            }
        } else if p.key_pos == keys {
            p.key_pos = 0;
            p.query += 1;
            if p.query == hc.queries {
                self.last_done = Some((p.call, p.lsb));
                if !p.lsb {
                    self.msb_done = Some(p.call);
                }
                self.cur = None;
            }
        }
        (Activity::Busy, true)
    }
}
