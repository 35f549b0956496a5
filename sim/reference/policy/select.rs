//! Selectors: which candidates survive, and the top-k engine call that decided it.

use crate::reference::prune::{Selection, select};

/// Score of a protected position: above any accumulator, so the engine keeps it.
pub const PROTECTED: u64 = u64::MAX;

/// Whether token `t` of a sequence of `seq_len` tokens is one of the first `sinks` or the
/// last `window` positions.
pub fn protected(t: u32, seq_len: u32, sinks: u32, window: u32) -> bool {
    t < sinks || t >= seq_len.saturating_sub(window)
}

/// Keeps `budget` of the ascending `candidates` by `score`, the sinks and the window
/// protected, `exempt` (the generation query) kept without competing. Nothing runs when
/// the candidates fit the budget. The protected positions are never evicted: when they
/// alone exceed the budget (a relative budget on a short sequence), the budget grows to hold
/// them rather than dropping sinks or window positions by tie-break.
#[allow(clippy::too_many_arguments)]
pub fn top_k_protected(
    candidates: &[u32],
    budget: u32,
    seq_len: u32,
    sinks: u32,
    window: u32,
    exempt: Option<u32>,
    score: impl Fn(u32) -> u64,
    seed: u64,
) -> Selection {
    let held = candidates
        .iter()
        .filter(|&&t| Some(t) != exempt && protected(t, seq_len, sinks, window))
        .count() as u32;
    select(
        candidates,
        budget.max(held).max(1),
        exempt,
        |t| {
            if protected(t, seq_len, sinks, window) {
                PROTECTED
            } else {
                score(t)
            }
        },
        seed,
    )
}

/// The sinks and the window of the candidates (StreamingLLM); no engine call.
pub fn sinks_window(candidates: &[u32], seq_len: u32, sinks: u32, window: u32) -> Vec<u32> {
    candidates
        .iter()
        .copied()
        .filter(|&t| protected(t, seq_len, sinks, window))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_and_window_are_the_first_and_last_positions() {
        let all: Vec<u32> = (0..20).collect();
        assert_eq!(sinks_window(&all, 20, 4, 3), vec![0, 1, 2, 3, 17, 18, 19]);
        // Gaps in the candidates (already evicted) stay gaps.
        let some = [0, 2, 5, 9, 18];
        assert_eq!(sinks_window(&some, 20, 4, 3), vec![0, 2, 18]);
    }

    #[test]
    fn heavy_hitters_plus_window_on_a_crafted_sequence() {
        // 16 tokens; heavy hitters at 5 and 9, sinks {0}, window {14, 15}, budget 5.
        let all: Vec<u32> = (0..16).collect();
        let score = |t: u32| match t {
            5 => 900,
            9 => 700,
            11 => 300,
            _ => 10 + t as u64,
        };
        let s = top_k_protected(&all, 5, 16, 1, 2, None, score, 3);
        assert_eq!(s.kept, vec![0, 5, 9, 14, 15]);
        assert_eq!((s.n, s.k), (16, 5));
        // One more place goes to the next heaviest.
        let s = top_k_protected(&all, 6, 16, 1, 2, None, score, 3);
        assert_eq!(s.kept, vec![0, 5, 9, 11, 14, 15]);
    }

    #[test]
    fn protected_positions_survive_a_budget_smaller_than_them() {
        // Sinks {0, 1} and window {12..16}: six protected against a budget of 3.
        let all: Vec<u32> = (0..16).collect();
        let s = top_k_protected(&all, 3, 16, 2, 4, None, |t| 100 - t as u64, 7);
        assert_eq!(s.kept, vec![0, 1, 12, 13, 14, 15]);
    }

    #[test]
    fn the_generation_query_is_exempt() {
        let all: Vec<u32> = (0..10).collect();
        let s = top_k_protected(
            &all,
            3,
            10,
            0,
            0,
            Some(9),
            |t| [5, 1, 9, 0, 0, 0, 0, 0, 0, 0][t as usize],
            1,
        );
        assert_eq!(s.kept, vec![0, 2, 9]);
        assert_eq!((s.n, s.k), (9, 2));
    }
}
