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
//!
//! Head order: ProbxV, the importance accumulators and the local-V engine take heads in call
//! order. When the next head's QxK runs before the previous head's decision
//! (`controller.qk_waits_for_requant = false`), a refetched head's re-injected LSB pass
//! reaches this unit after later heads' final passes; as in the public RTL a reorder buffer
//! restores the order: a final-pass beat of a head whose predecessors are not all forwarded
//! is held (with its already-computed fan-out) and forwarded, one beat per cycle, when its
//! head's turn comes. The buffer's size is not an arch parameter (it holds at most the final
//! passes of the heads open in the SRAM ring). Heads in order pass straight through, so with
//! the wait on nothing is ever held.
//!
//! ProbxV's FIFO is fed by two paths, this unit (heads that keep all V) and the local-V
//! engine (heads that prune V locally, later: after their top-k rounds). A beat for ProbxV
//! waits while the local-V engine still has an earlier head's probabilities to emit, so
//! ProbxV sees heads whole and in order.

use std::collections::{BTreeMap, VecDeque};

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
    /// The head whose final pass goes out next, and its input elements forwarded so far.
    expected: u32,
    expected_forwarded: u64,
    /// Final-pass beats held for order, by head.
    held: BTreeMap<u32, VecDeque<Held>>,
}

/// A held beat: the chunk, its input elements, and its fan-out [ProbxV, local-V, importance].
#[derive(Debug, Clone, Copy)]
struct Held {
    chunk: Chunk,
    n: u32,
    to: [u32; 3],
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
            expected: 0,
            expected_forwarded: 0,
            held: BTreeMap::new(),
        }
    }

    /// Counts `n` input elements of the expected head's final pass as forwarded, moving on
    /// to the next head when the pass is complete.
    fn forwarded(&mut self, calls: &[HeadCall], n: u64) {
        self.expected_forwarded += n;
        let hc = &calls[self.expected as usize];
        if self.expected_forwarded == hc.queries as u64 * hc.keys.len() as u64 {
            self.held.remove(&self.expected);
            self.expected += 1;
            self.expected_forwarded = 0;
        }
    }

    pub fn next_event(&self) -> Option<u64> {
        self.decisions.next_ready()
    }

    pub fn is_drained(&self) -> bool {
        self.decisions.is_empty() && self.in_row == 0 && self.in_pass == 0 && self.held.is_empty()
    }

    /// What each of the next cycles does while the row stays unfinished, no decision comes
    /// due and the zero eliminator's cut is not reached (see `stride`). Pushes are
    /// [ProbxV, local-V top-k, importance].
    pub fn stride(
        &self,
        now: u64,
        calls: &[HeadCall],
        input: &Fifo<Chunk>,
        local_v_pending: bool,
    ) -> Option<Stride> {
        // Held beats move one per cycle: always stepped.
        if !self.held.is_empty() {
            return None;
        }
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
            if chunk.call != self.expected {
                return None; // held for order
            }
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
                if to_pv > 0 && local_v_pending {
                    return None; // waits for the local-V engine
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
    pub fn repeat(&mut self, calls: &[HeadCall], s: &Stride, cycles: u64) {
        if let Some((chunk, n)) = s.take {
            if chunk.lsb == calls[chunk.call as usize].lsb_refetch {
                // A stride never ends a pass, so this never completes the expected head.
                self.expected_forwarded += n as u64 * cycles;
            }
            self.in_row += n * cycles as u32;
            self.in_pass += n as u64 * cycles;
            self.forwarded_in_row += s.push[0].map_or(0, |(_, m)| m) * cycles as u32;
        }
    }

    /// Steps one cycle; head calls whose decision became known are appended to `decided`.
    /// `local_v_pending`: the local-V engine has probabilities of an earlier head to emit.
    pub fn step(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        input: &mut Fifo<Chunk>,
        mut out: Outputs,
        decided: &mut Vec<u32>,
        local_v_pending: bool,
    ) -> (Activity, bool) {
        let mut progress = false;
        while let Some(call) = self.decisions.pop_ready(now) {
            decided.push(call);
            progress = true;
        }
        // A held beat of the head whose turn it is goes out first, when every destination
        // has room.
        let mut drained = false;
        if let Some(b) = self
            .held
            .get(&self.expected)
            .and_then(|q| q.front().copied())
            && out.pv.free() >= b.to[0]
            && (b.to[0] == 0 || !local_v_pending)
            && out.topk.free() >= b.to[1]
            && out.importance.free() >= b.to[2]
        {
            send(&mut out, now, b.chunk, b.to);
            if let Some(q) = self.held.get_mut(&self.expected) {
                q.pop_front();
                if q.is_empty() {
                    self.held.remove(&self.expected);
                }
            }
            self.forwarded(calls, b.n as u64);
            drained = true;
            progress = true;
        }
        let Some((&chunk, have)) = input.front() else {
            let a = if drained {
                Activity::Busy
            } else {
                Activity::without_input(self.in_row > 0, !self.decisions.is_empty())
            };
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
        let to = [to_pv, to_topk, to_importance];
        // In order (and nothing of this head held, nothing sent this cycle): straight through.
        let direct = !final_pass
            || (!drained && chunk.call == self.expected && !self.held.contains_key(&chunk.call));
        if direct {
            if out.topk.free() < to_topk
                || out.pv.free() < to_pv
                || (to_pv > 0 && local_v_pending)
                || out.importance.free() < to_importance
            {
                let a = if drained {
                    Activity::Busy
                } else {
                    Activity::StalledOutput
                };
                return (a, progress);
            }
            input.take(now, n);
            send(&mut out, now, chunk, to);
            if final_pass {
                self.forwarded(calls, n as u64);
            }
        } else {
            input.take(now, n);
            self.held
                .entry(chunk.call)
                .or_default()
                .push_back(Held { chunk, n, to });
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

/// Pushes one beat's fan-out [ProbxV, local-V, importance]; the caller checked the room.
fn send(out: &mut Outputs, now: u64, chunk: Chunk, to: [u32; 3]) {
    if to[1] > 0 {
        out.topk.try_push(now, chunk, to[1]);
    }
    if to[0] > 0 {
        out.pv.try_push(now, chunk, to[0]);
    }
    if to[2] > 0 {
        out.importance.try_push(now, chunk, to[2]);
    }
}
