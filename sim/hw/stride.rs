//! Steady streaming: runs of identical cycles while data flows.
//!
//! In a compute-bound stretch (a head's QxK rows with every key in SRAM) each unit moves the
//! same beat every cycle and every FIFO between them holds the same items before and after
//! the cycle, so nothing can change until some unit's counter reaches a boundary (a row or
//! pass end, a pipeline event, a timer). Each unit predicts, from its state after a cycle,
//! the beat it will take and push in each of the following cycles and for how many cycles
//! that holds; when producers and consumers agree on every FIFO, the machine applies that
//! many cycles at once. Fast-forward on and off give identical statistics (tested).

use super::Chunk;
use super::fifo::Fifo;
use super::stats::Activity;

/// An item of `n` elements entering or leaving a FIFO: (chunk, n).
pub type Beat = (Chunk, u32);

/// What a unit does in each of the next `cycles` cycles, identically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stride {
    pub cycles: u64,
    pub activity: Activity,
    /// The beat taken whole from the unit's input FIFO each cycle.
    pub take: Option<Beat>,
    /// The beats pushed to the unit's output FIFOs each cycle, in the unit's own order.
    pub push: [Option<Beat>; 3],
    /// The beat entering the unit's internal pipeline each cycle.
    pub pipe: Option<Beat>,
}

impl Stride {
    /// Nothing moves for `cycles` cycles.
    pub fn still(cycles: u64, activity: Activity) -> Self {
        Self {
            cycles,
            activity,
            take: None,
            push: [None; 3],
            pipe: None,
        }
    }

    pub fn moving(cycles: u64, take: Option<Beat>, push: [Option<Beat>; 3]) -> Self {
        Self {
            cycles,
            activity: Activity::Busy,
            take,
            push,
            pipe: None,
        }
    }

    pub fn moves(&self) -> bool {
        self.take.is_some() || self.push.iter().any(Option::is_some)
    }

    /// Some(self) when it covers at least one cycle.
    pub fn nonzero(self) -> Option<Self> {
        (self.cycles > 0).then_some(self)
    }
}

/// How many cycles k = 1, 2, ... keep `x + k * step < bound` (all of them for a zero step).
pub fn cycles_below(x: u64, step: u64, bound: u64) -> u64 {
    if step == 0 {
        return if x < bound { u64::MAX } else { 0 };
    }
    if x + step >= bound {
        0
    } else {
        (bound - 1 - x) / step
    }
}

/// How many cycles after `now` come before `at` (all of them when there is no `at`).
pub fn cycles_before(now: u64, at: Option<u64>) -> u64 {
    at.map_or(u64::MAX, |a| a.saturating_sub(now + 1))
}

/// Whether a FIFO stays as it is while its producer pushes `push` and its consumer (stepped
/// first) takes `take` every cycle: both idle, or both moving one and the same beat while
/// the FIFO holds only such beats.
pub fn fifo_steady(fifo: &Fifo<Chunk>, push: Option<Beat>, take: Option<Beat>) -> bool {
    match (push, take) {
        (None, None) => true,
        (Some(p), Some(t)) => p == t && fifo.holds_only(&p.0, p.1),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_below_counts_the_steps_that_stay_under_the_bound() {
        for x in 0..20u64 {
            for step in 0..5u64 {
                for bound in 0..30u64 {
                    let brute = (1..=40u64).take_while(|k| x + k * step < bound).count() as u64;
                    let got = cycles_below(x, step, bound);
                    if step == 0 && x < bound {
                        assert_eq!(got, u64::MAX);
                    } else {
                        assert_eq!(got, brute, "x {x} step {step} bound {bound}");
                    }
                }
            }
        }
        assert_eq!(cycles_before(10, Some(15)), 4);
        assert_eq!(cycles_before(10, Some(10)), 0);
        assert_eq!(cycles_before(10, None), u64::MAX);
    }
}
