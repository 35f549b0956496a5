//! The Q x K unit: `multipliers / D` scores per cycle (one adder tree of D inputs per key),
//! one query row at a time; a pipeline of broadcast + multiply + ceil(log2 D) tree stages.
//! A beat needs its query row and its key rows in SRAM (and, on the LSB pass, the keys'
//! LSB rows too), and a free pipeline stage: beats leave the pipeline in order into the
//! softmax FIFO, and when it is full the pipeline holds them (one per stage) and stalls.

use std::collections::VecDeque;

use super::Chunk;
use super::controller::HeadRt;
use super::fetcher::FetchJob;
use super::fifo::{DelayLine, Fifo};
use super::stats::Activity;
use super::stride::{Stride, cycles_below};
use crate::trace::attention::HeadCall;

#[derive(Debug)]
struct Pass {
    call: u32,
    lsb: bool,
    query: u32,
    key_pos: u32,
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
            macs: 0,
            scores: 0,
        }
    }

    /// Key rows of pass (`call`, `lsb`) with one query row that the unit is done with, out
    /// of `rows` (for K streaming through SRAM in tiles).
    pub fn consumed(&self, call: u32, lsb: bool, rows: u32) -> u32 {
        match &self.cur {
            Some(p) if (p.call, p.lsb) == (call, lsb) => p.key_pos,
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
                let key_pos = p.key_pos as u64;
                let rows = |j: Option<usize>| j.map_or(0, |j| jobs[j].rows_ready as u64);
                if rows(h.q_job) <= p.query as u64 {
                    return None;
                }
                // Full beats that leave the query row unfinished, each with its key rows loaded.
                let mut cycles = cycles_below(key_pos, n, hc.keys.len() as u64)
                    .min(rows(h.k_job).saturating_sub(key_pos) / n);
                if p.lsb {
                    cycles = cycles.min(rows(h.k_lsb_job).saturating_sub(key_pos) / n);
                }
                let chunk = Chunk {
                    call: p.call,
                    lsb: p.lsb,
                };
                (Some((chunk, n as u32)), cycles)
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
            self.cur = Some(Pass {
                call,
                lsb,
                query: 0,
                key_pos: 0,
            });
            progress = true;
        }
        let p = self.cur.as_mut().expect("set above");
        let hc = &calls[p.call as usize];
        let h = &heads[p.call as usize];
        let keys = hc.keys.len() as u32;
        let n = self.scores_per_cycle.min(keys - p.key_pos);
        let ready = |j: Option<usize>, need: u32| j.is_some_and(|j| jobs[j].rows_ready >= need);
        let inputs = ready(h.q_job, p.query + 1)
            && ready(h.k_job, p.key_pos + n)
            && (!p.lsb || ready(h.k_lsb_job, p.key_pos + n));
        if !inputs {
            return (Activity::StalledInput, progress);
        }
        // A stalled pipeline holds at most one beat per stage.
        if self.pipe.len() as u64 >= self.latency_cycles.max(1) {
            return (Activity::StalledOutput, progress);
        }
        self.pipe.push(
            now + self.latency_cycles,
            (
                Chunk {
                    call: p.call,
                    lsb: p.lsb,
                },
                n,
            ),
        );
        self.macs += n as u64 * self.head_dim;
        self.scores += n as u64;
        p.key_pos += n;
        if p.key_pos == keys {
            p.key_pos = 0;
            p.query += 1;
            if p.query == hc.queries {
                self.last_done = Some((p.call, p.lsb));
                self.cur = None;
            }
        }
        (Activity::Busy, true)
    }
}
