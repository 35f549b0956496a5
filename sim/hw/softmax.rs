//! The softmax unit: `lanes` elements per cycle. The input stage dequantizes, exponentiates
//! and accumulates a row (its sum is known dequant + exp + accumulate cycles after the last
//! element enters); the output stage then divides and requantizes the row at `lanes` per
//! cycle (divide + quantize cycles of pipeline), rows in order. The exponentials of rows
//! waiting for their sum are held in the unit. Rows of heads that fit an SRAM bank overlap
//! freely (the rows in flight are bounded by the stage latencies over the row time). The
//! input stage sums several rows side by side when their elements arrive interleaved (an
//! interleaved GQA group's tiles, see [`super::qk`]); rows still complete, and leave, in
//! order. A tiled summarization call's query block ([`super::tiling::Blocks`]) is summed and
//! emitted as one row of all its rows' elements, in the order they came (its rows' sums
//! complete with its last tile), and the unit holds at most two blocks
//! (`softmax.score_buffer_entries` is sized for that): the next block's first element waits
//! until the block before the previous one has left. In a two-pass design a block's first
//! pass is summed the same way (its exponentials are not kept, so no block waits for room)
//! and emits nothing; its second pass streams: once the first pass's sums are known and
//! every row before it has left, each element is exponentiated again and divided as it
//! comes (dequant + exp + divide + quantize cycles of pipeline). A tiled generation row with
//! more keys than its share of that buffer is refused, or spills the rest of its
//! exponentials to DRAM ([`super::spill`], `softmax.overflow = "spill"`).

use std::collections::VecDeque;

use super::Chunk;
use super::fifo::{DelayLine, Fifo};
use super::spill::ScoreSpill;
use super::stats::Activity;
use super::stride::{Stride, cycles_before, cycles_below};
use super::tiling::Blocks;
use crate::trace::attention::HeadCall;

#[derive(Debug)]
pub struct Softmax {
    lanes: u32,
    sum_latency_cycles: u64,
    out_latency_cycles: u64,
    /// A streamed element's way through the unit: exponentiated again, then divided.
    stream_latency_cycles: u64,
    /// Two-pass blocks whose first pass is summed: (call, block, cycle its sums are known).
    sums_ready: Vec<(u32, u32, u64)>,
    /// Rows being summed, with their elements so far: one, except for interleaved groups.
    in_rows: Vec<(Chunk, u32)>,
    pending: VecDeque<(u64, Chunk)>,
    out_row: Option<(Chunk, u32)>,
    pipe: DelayLine<(Chunk, u32)>,
    /// Per call, its query blocks when it is a tiled summarization call.
    blocks: Vec<Option<Blocks>>,
    /// Per call, the exponentials its rows keep on chip when they spill the rest.
    spill_quota: Vec<Option<u32>>,
    pub spill: ScoreSpill,
    pub elements: u64,
}

impl Softmax {
    pub fn new(cfg: &crate::config::arch::SoftmaxConfig) -> Self {
        Self {
            lanes: cfg.lanes,
            sum_latency_cycles: (cfg.dequant_latency_cycles
                + cfg.exp_latency_cycles
                + cfg.accumulate_latency_cycles) as u64,
            out_latency_cycles: (cfg.divide_latency_cycles + cfg.quantize_latency_cycles) as u64,
            stream_latency_cycles: (cfg.dequant_latency_cycles
                + cfg.exp_latency_cycles
                + cfg.divide_latency_cycles
                + cfg.quantize_latency_cycles) as u64,
            sums_ready: Vec::new(),
            in_rows: Vec::new(),
            pending: VecDeque::new(),
            out_row: None,
            pipe: DelayLine::default(),
            blocks: Vec::new(),
            spill_quota: Vec::new(),
            spill: ScoreSpill::new(0, 0, 0, 32, 1, 1),
            elements: 0,
        }
    }

    /// Spills the rows of calls with a quota (`quota`, per call) through `spill`.
    pub fn with_spill(mut self, quota: Vec<Option<u32>>, spill: ScoreSpill) -> Self {
        self.spill_quota = quota;
        self.spill = spill;
        self
    }

    /// Whether the unit may make spill requests this cycle: a spilling row is in it, or
    /// the next element of `input` starts one. (The DRAM must be brought to the current
    /// cycle before they enter it, as the fetcher's are.)
    pub fn may_spill(&self, input: &Fifo<Chunk>) -> bool {
        !self.spill.is_idle() || input.front().is_some_and(|(c, _)| self.quota(c).is_some())
    }

    fn quota(&self, chunk: &Chunk) -> Option<u32> {
        self.spill_quota.get(chunk.call as usize).copied().flatten()
    }

    /// Sums the query blocks of tiled summarization calls (`blocks`, per call) as rows.
    pub fn with_blocks(mut self, blocks: Vec<Option<Blocks>>) -> Self {
        self.blocks = blocks;
        self
    }

    fn blocked(&self, chunk: &Chunk) -> bool {
        self.blocks
            .get(chunk.call as usize)
            .is_some_and(Option::is_some)
    }

    fn two_pass(&self, chunk: &Chunk) -> bool {
        self.blocks
            .get(chunk.call as usize)
            .is_some_and(|b| b.is_some_and(|b| b.two_pass()))
    }

    /// Whether `chunk` is the second pass of a two-pass block, which streams.
    fn streams(&self, chunk: &Chunk) -> bool {
        !chunk.sum_only && self.two_pass(chunk)
    }

    /// When the sums of `chunk`'s block are known (its first pass summed), if they are.
    fn sums_known(&self, chunk: &Chunk) -> Option<u64> {
        self.sums_ready
            .iter()
            .find(|&&(c, b, _)| (c, b) == (chunk.call, chunk.block))
            .map(|&(_, _, r)| r)
    }

    /// Whether the input stage may take an element of `chunk`: always, except for a new
    /// query block while two are held (summing, waiting for their sums, or leaving).
    fn room_for(&self, chunk: &Chunk) -> bool {
        if !self.blocked(chunk)
            || self.two_pass(chunk)
            || self.in_rows.iter().any(|(c, _)| c == chunk)
        {
            return true;
        }
        let held = self
            .in_rows
            .iter()
            .map(|(c, _)| c)
            .chain(self.pending.iter().map(|(_, c)| c))
            .chain(self.out_row.iter().map(|(c, _)| c))
            .filter(|c| self.blocked(c))
            .count();
        held < 2
    }

    /// Elements of `chunk`'s row: its call's keys, or its block's scores.
    fn row_len(&self, calls: &[HeadCall], chunk: &Chunk) -> u32 {
        match self.blocks.get(chunk.call as usize).copied().flatten() {
            Some(b) => b.elements(chunk.block),
            None => calls[chunk.call as usize].keys.len() as u32,
        }
    }

    /// Elements of `chunk`'s row summed so far.
    fn have(&self, chunk: &Chunk) -> u32 {
        self.in_rows
            .iter()
            .find(|(c, _)| c == chunk)
            .map_or(0, |(_, n)| *n)
    }

    fn set_have(&mut self, chunk: Chunk, have: u32) {
        match self.in_rows.iter_mut().find(|(c, _)| *c == chunk) {
            Some((_, n)) => *n = have,
            None => self.in_rows.push((chunk, have)),
        }
    }

    /// The earliest cycle after `now` at which a row's sum or a pipeline beat is ready.
    pub fn next_event(&self, now: u64) -> Option<u64> {
        let p = self.pending.front().map(|(r, _)| *r).filter(|&r| r > now);
        let q = self.pipe.next_ready().filter(|&r| r > now);
        let s = self
            .sums_ready
            .iter()
            .map(|&(_, _, r)| r)
            .filter(|&r| r > now)
            .min();
        [p, q, s].into_iter().flatten().min()
    }

    pub fn is_drained(&self) -> bool {
        self.spill.is_idle()
            && self.sums_ready.is_empty()
            && self.in_rows.is_empty()
            && self.pending.is_empty()
            && self.out_row.is_none()
            && self.pipe.is_empty()
    }

    pub fn describe(&self) -> String {
        format!(
            "softmax input row {:?}, {} rows summing, output row {:?}{}",
            self.in_rows.first().map(|(c, n)| (c.call, n)),
            self.pending.len(),
            self.out_row.map(|(c, n)| (c.call, n)),
            if self.spill.is_idle() {
                String::new()
            } else {
                format!("; {}", self.spill.describe())
            }
        )
    }

    /// What each of the next cycles does while the output row and the input row both stay
    /// unfinished (or idle) and the output pipeline keeps its pace (see `stride`).
    pub fn stride(&self, now: u64, calls: &[HeadCall], input: &Fifo<Chunk>) -> Option<Stride> {
        // Spilling rows step cycle by cycle: their pace follows the DRAM.
        let spills = |c: Option<&Chunk>| c.is_some_and(|c| self.quota(c).is_some());
        // So do the streamed second passes of two-pass blocks.
        if !self.spill.is_idle()
            || input.front().is_some_and(|(c, _)| self.streams(c))
            || spills(input.front().map(|(c, _)| c))
            || spills(self.out_row.as_ref().map(|(c, _)| c))
        {
            return None;
        }
        let lanes = self.lanes as u64;
        let row_of = |c: &Chunk| self.row_len(calls, c) as u64;
        let (beat, out_cycles) = match self.out_row {
            Some((chunk, emitted)) => (
                Some((chunk, self.lanes)),
                cycles_below(emitted as u64, lanes, row_of(&chunk)),
            ),
            None => (
                None,
                cycles_before(now, self.pending.front().map(|(r, _)| *r)),
            ),
        };
        let (out, pipe_cycles) =
            self.pipe
                .steady_output(now, beat.as_ref(), self.out_latency_cycles);
        let mut full = false;
        let (in_cycles, take) = match input.front() {
            Some((&chunk, _)) if !self.room_for(&chunk) => {
                full = true;
                (u64::MAX, None)
            }
            Some((&chunk, b)) if b <= self.lanes => {
                let have = self.have(&chunk) as u64;
                (
                    cycles_below(have, b as u64, row_of(&chunk)),
                    Some((chunk, b)),
                )
            }
            Some(_) => return None,
            None => (u64::MAX, None),
        };
        let activity = if beat.is_some() || take.is_some() {
            Activity::Busy
        } else if full {
            Activity::StalledOutput
        } else if !self.in_rows.is_empty() {
            Activity::StalledInput
        } else if !self.pending.is_empty() || !self.pipe.is_empty() {
            Activity::Busy
        } else {
            Activity::Idle
        };
        let cycles = out_cycles.min(pipe_cycles).min(in_cycles);
        Stride {
            cycles,
            activity,
            take,
            push: [out, None, None],
            pipe: beat,
        }
        .nonzero()
    }

    /// Applies `cycles` cycles of `stride` after `now`.
    pub fn repeat(&mut self, now: u64, s: &Stride, cycles: u64) {
        if let (Some((_, emitted)), Some((_, n))) = (&mut self.out_row, s.pipe) {
            *emitted += n * cycles as u32;
            self.elements += n as u64 * cycles;
        }
        self.pipe.repeat(
            now,
            cycles,
            s.push[0].is_some(),
            s.pipe.as_ref(),
            self.out_latency_cycles,
        );
        if let Some((chunk, b)) = s.take {
            let have = self.have(&chunk);
            self.set_have(chunk, have + b * cycles as u32);
        }
    }

    pub fn step(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        input: &mut Fifo<Chunk>,
        out: &mut Fifo<Chunk>,
    ) -> (Activity, bool) {
        let mut progress = false;
        let mut worked = false;
        let mut blocked_out = false;
        while let Some(&(chunk, n)) = self.pipe.peek_ready(now) {
            if !out.try_push(now, chunk, n) {
                break;
            }
            self.pipe.pop_ready(now);
            progress = true;
        }
        if self.out_row.is_none() && self.pending.front().is_some_and(|(r, _)| *r <= now) {
            let (_, chunk) = self.pending.pop_front().expect("checked");
            self.out_row = Some((chunk, 0));
            progress = true;
        }
        let out_len = self.out_row.map(|(c, _)| self.row_len(calls, &c));
        let mut starved = false;
        if let (Some((chunk, emitted)), Some(row_len)) = (&mut self.out_row, out_len) {
            let mut n = self.lanes.min(row_len - *emitted);
            if let Some(ready) = self.spill.available(chunk, *emitted) {
                n = n.min(ready);
            }
            if n == 0 {
                // Waiting for spilled exponentials to come back from DRAM.
                starved = true;
            } else if (self.pipe.len() as u64) < self.out_latency_cycles.max(1) {
                // A stalled output pipeline holds at most one beat per stage.
                self.pipe.push(now + self.out_latency_cycles, (*chunk, n));
                self.spill.divide(chunk, *emitted, n, row_len);
                *emitted += n;
                self.elements += n as u64;
                if *emitted == row_len {
                    self.out_row = None;
                }
                worked = true;
            } else {
                blocked_out = true;
            }
        }
        let mut full = false;
        let mut summing = false;
        let streamed = input
            .front()
            .filter(|(c, _)| self.streams(c))
            .map(|(&c, _)| c);
        if let Some(chunk) = streamed {
            // Behind every row before it, once its block's sums are known; one element per
            // lane and cycle, each leaving the pipeline in order.
            let row_len = self.row_len(calls, &chunk);
            let have = self.have(&chunk);
            let behind = self.out_row.is_none() && self.pending.is_empty();
            match self.sums_known(&chunk) {
                Some(r) if r <= now && behind => {
                    if (self.pipe.len() as u64) < self.stream_latency_cycles.max(1) {
                        let (_, n) = input
                            .take(now, self.lanes.min(row_len - have))
                            .expect("front checked");
                        self.pipe.push(now + self.stream_latency_cycles, (chunk, n));
                        self.elements += n as u64;
                        if have + n == row_len {
                            self.in_rows.retain(|(c, _)| *c != chunk);
                            self.sums_ready
                                .retain(|&(c, b, _)| (c, b) != (chunk.call, chunk.block));
                        } else {
                            self.set_have(chunk, have + n);
                        }
                        worked = true;
                    } else {
                        blocked_out = true;
                    }
                }
                Some(r) if r <= now => full = true,
                // The first pass's sums are still being accumulated.
                _ => summing = true,
            }
        } else if let Some((&chunk, _)) = input.front() {
            let row_len = self.row_len(calls, &chunk);
            let have = self.have(&chunk);
            let want = self.lanes.min(row_len - have);
            let quota = self.quota(&chunk);
            if !self.room_for(&chunk)
                || quota.is_some_and(|q| !self.spill.can_take(&chunk, q, have, want))
            {
                full = true;
            } else {
                let (_, n) = input.take(now, want).expect("front checked");
                if let Some(q) = quota {
                    self.spill.take(chunk, q, have, n, row_len);
                }
                let have = have + n;
                if have == row_len && chunk.sum_only {
                    // A two-pass block's first pass: its sums, and nothing to emit.
                    self.sums_ready
                        .push((chunk.call, chunk.block, now + self.sum_latency_cycles));
                    self.in_rows.retain(|(c, _)| *c != chunk);
                } else if have == row_len {
                    self.pending
                        .push_back((now + self.sum_latency_cycles, chunk));
                    self.in_rows.retain(|(c, _)| *c != chunk);
                } else {
                    self.set_have(chunk, have);
                }
                worked = true;
            }
        } else if !self.in_rows.is_empty() {
            starved = true;
        }
        let order = self.out_row.iter().map(|(c, _)| c);
        self.spill
            .request_reads(order.chain(self.pending.iter().map(|(_, c)| c)));
        let activity = if worked {
            Activity::Busy
        } else if blocked_out || full {
            Activity::StalledOutput
        } else if starved {
            Activity::StalledInput
        } else if summing || !self.pending.is_empty() || !self.pipe.is_empty() {
            Activity::Busy
        } else {
            Activity::Idle
        };
        (activity, progress || worked)
    }
}
