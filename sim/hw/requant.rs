//! The requant decision unit, which also distributes the probability stream.
//!
//! It takes `tree_inputs` probabilities per cycle into a max tree and a running max; at the
//! end of a head's MSB pass the decision (refetch the LSBs or not) is known
//! `tree_latency_cycles` later. The trace records the decision; this unit decides *when*.
//! Probabilities of a pass that will be redone (the MSB pass of a refetched head) stop
//! here. Those of the final pass go on, in the same cycle, to ProbxV (or to the local-V
//! top-k engine when the head prunes V, or with only the head's first `values` per row when
//! the trace fetches fewer V rows than keys without a recorded top-k call: the zero
//! eliminator) and, when the head accumulates importance, to the importance accumulators.
//! A beat moves only when every destination has room.

use super::Chunk;
use super::fifo::{DelayLine, Fifo};
use super::stats::Activity;
use super::stride::{Stride, cycles_before, cycles_below};
use crate::trace::attention::HeadCall;

#[derive(Debug)]
pub struct Requant {
    inputs_per_cycle: u32,
    latency_cycles: u64,
    in_row: u32,
    forwarded_in_row: u32,
    in_pass: u64,
    decisions: DelayLine<u32>,
}

pub struct Outputs<'f> {
    pub pv: &'f mut Fifo<Chunk>,
    pub topk: &'f mut Fifo<Chunk>,
    pub importance: &'f mut Fifo<Chunk>,
}

impl Requant {
    pub fn new(cfg: &crate::config::arch::RequantConfig) -> Self {
        Self {
            inputs_per_cycle: cfg.tree_inputs,
            latency_cycles: cfg.tree_latency_cycles as u64,
            in_row: 0,
            forwarded_in_row: 0,
            in_pass: 0,
            decisions: DelayLine::default(),
        }
    }

    pub fn next_event(&self) -> Option<u64> {
        self.decisions.next_ready()
    }

    pub fn is_drained(&self) -> bool {
        self.decisions.is_empty() && self.in_row == 0 && self.in_pass == 0
    }

    /// What each of the next cycles does while the row stays unfinished, no decision comes
    /// due and the zero eliminator's cut is not reached (see `stride`). Pushes are
    /// [ProbxV, local-V top-k, importance].
    pub fn stride(&self, now: u64, calls: &[HeadCall], input: &Fifo<Chunk>) -> Option<Stride> {
        let due = cycles_before(now, self.decisions.next_ready());
        let Some((&chunk, have)) = input.front() else {
            let activity = Activity::without_input(self.in_row > 0, !self.decisions.is_empty());
            return Stride::still(due, activity).nonzero();
        };
        let hc = &calls[chunk.call as usize];
        let keys = hc.keys.len() as u32;
        let n = self.inputs_per_cycle.min(have).min(keys - self.in_row);
        if n != have {
            return None;
        }
        let mut cycles = cycles_below(self.in_row as u64, n as u64, keys as u64).min(due);
        let mut push = [None; 3];
        if chunk.lsb == hc.lsb_refetch {
            if hc.value_topk.is_some() {
                push[1] = Some((chunk, n));
            } else {
                let left = (hc.values.len() as u32).saturating_sub(self.forwarded_in_row);
                let to_pv = n.min(left);
                if to_pv == n {
                    cycles = cycles.min((left / n) as u64);
                } else if to_pv > 0 {
                    cycles = cycles.min(1);
                }
                push[0] = (to_pv > 0).then_some((chunk, to_pv));
            }
            if hc.accumulate_importance {
                push[2] = Some((chunk, n));
            }
        }
        Stride::moving(cycles, Some((chunk, n)), push).nonzero()
    }

    /// Applies `cycles` cycles of `stride`.
    pub fn repeat(&mut self, s: &Stride, cycles: u64) {
        if let Some((_, n)) = s.take {
            self.in_row += n * cycles as u32;
            self.in_pass += n as u64 * cycles;
            self.forwarded_in_row += s.push[0].map_or(0, |(_, m)| m) * cycles as u32;
        }
    }

    /// Steps one cycle; head calls whose decision became known are appended to `decided`.
    pub fn step(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        input: &mut Fifo<Chunk>,
        out: Outputs,
        decided: &mut Vec<u32>,
    ) -> (Activity, bool) {
        let mut progress = false;
        while let Some(call) = self.decisions.pop_ready(now) {
            decided.push(call);
            progress = true;
        }
        let Some((&chunk, have)) = input.front() else {
            let a = Activity::without_input(self.in_row > 0, !self.decisions.is_empty());
            return (a, progress);
        };
        let hc = &calls[chunk.call as usize];
        let keys = hc.keys.len() as u32;
        let values = hc.values.len() as u32;
        let n = self.inputs_per_cycle.min(have).min(keys - self.in_row);
        let final_pass = chunk.lsb == hc.lsb_refetch;
        let mut to_topk = 0;
        let mut to_pv = 0;
        let mut to_importance = 0;
        if final_pass {
            if hc.value_topk.is_some() {
                to_topk = n;
            } else {
                to_pv = n.min(values.saturating_sub(self.forwarded_in_row));
            }
            if hc.accumulate_importance {
                to_importance = n;
            }
        }
        if out.topk.free() < to_topk
            || out.pv.free() < to_pv
            || out.importance.free() < to_importance
        {
            return (Activity::StalledOutput, progress);
        }
        input.take(now, n);
        if to_topk > 0 {
            out.topk.try_push(now, chunk, to_topk);
        }
        if to_pv > 0 {
            out.pv.try_push(now, chunk, to_pv);
        }
        if to_importance > 0 {
            out.importance.try_push(now, chunk, to_importance);
        }
        self.forwarded_in_row += to_pv;
        self.in_row += n;
        if self.in_row == keys {
            self.in_row = 0;
            self.forwarded_in_row = 0;
        }
        self.in_pass += n as u64;
        if self.in_pass == hc.queries as u64 * keys as u64 {
            self.in_pass = 0;
            if !chunk.lsb {
                self.decisions.push(now + self.latency_cycles, chunk.call);
            }
        }
        (Activity::Busy, true)
    }
}
