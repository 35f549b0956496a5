//! The token importance accumulators: `adders` probabilities added per cycle into the
//! on-chip token scores. (Head importance, one addition of |attention_out| per output
//! element, runs inside ProbxV's accumulator and is not a separate stream.)

use super::Chunk;
use super::fifo::Fifo;
use super::stats::Activity;
use super::stride::{Stride, cycles_below};
use crate::trace::attention::HeadCall;

#[derive(Debug)]
pub struct Importance {
    adders: u32,
    consumed: u64,
    pub additions: u64,
}

impl Importance {
    pub fn new(cfg: &crate::config::arch::ImportanceConfig) -> Self {
        Self {
            adders: cfg.adders,
            consumed: 0,
            additions: 0,
        }
    }

    pub fn is_drained(&self) -> bool {
        self.consumed == 0
    }

    /// What each of the next cycles does while the head's probabilities are not all added
    /// (see `stride`).
    pub fn stride(&self, calls: &[HeadCall], input: &Fifo<Chunk>) -> Option<Stride> {
        let Some((&chunk, have)) = input.front() else {
            let activity = Activity::without_input(self.consumed > 0, false);
            return Some(Stride::still(u64::MAX, activity));
        };
        if have > self.adders {
            return None;
        }
        let hc = &calls[chunk.call as usize];
        let total = hc.queries as u64 * hc.keys.len() as u64;
        let cycles = cycles_below(self.consumed, have as u64, total);
        Stride::moving(cycles, Some((chunk, have)), [None; 3]).nonzero()
    }

    /// Applies `cycles` cycles of `stride`.
    pub fn repeat(&mut self, s: &Stride, cycles: u64) {
        if let Some((_, n)) = s.take {
            self.consumed += n as u64 * cycles;
            self.additions += n as u64 * cycles;
        }
    }

    pub fn step(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        input: &mut Fifo<Chunk>,
        finished: &mut Vec<u32>,
    ) -> (Activity, bool) {
        let Some((&chunk, _)) = input.front() else {
            let a = Activity::without_input(self.consumed > 0, false);
            return (a, false);
        };
        let hc = &calls[chunk.call as usize];
        let (_, n) = input.take(now, self.adders).expect("front checked");
        self.additions += n as u64;
        self.consumed += n as u64;
        if self.consumed == hc.queries as u64 * hc.keys.len() as u64 {
            self.consumed = 0;
            finished.push(chunk.call);
        }
        (Activity::Busy, true)
    }
}
