//! The quick-select top-k engine (the public SpAtten RTL, github.com/mit-han-lab/spatten; SPEC.md section 6): the k largest of n
//! values, returned as input positions in their original order.

use super::zero_eliminator::eliminate;
use crate::trace::TopkStage;

/// Galois LFSR, polynomial x^32 + x^22 + x^2 + x + 1 (maximal length), the pivot generator.
#[derive(Debug, Clone)]
pub struct Lfsr(u32);

const LFSR_TAPS: u32 = 0x8020_0003;

impl Lfsr {
    /// Seeds from a 64-bit call seed (low 32 bits of splitmix64; a zero state becomes 1).
    pub fn new(seed: u64) -> Self {
        let s = splitmix64(seed) as u32;
        Lfsr(if s == 0 { 1 } else { s })
    }

    /// Starts from a raw state (the golden vectors give the RTL this state); 0 becomes 1.
    pub fn from_state(state: u32) -> Self {
        Lfsr(if state == 0 { 1 } else { state })
    }

    pub fn state(&self) -> u32 {
        self.0
    }

    /// Advances 32 steps (one full word of fresh bits) and returns the state.
    pub fn next_word(&mut self) -> u32 {
        for _ in 0..32 {
            let lsb = self.0 & 1;
            self.0 >>= 1;
            if lsb == 1 {
                self.0 ^= LFSR_TAPS;
            }
        }
        self.0
    }
}

pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of one top-k call: the workload seed, then purpose (0 token, 1 head, 2 local V),
/// iteration, layer and head (0 for token and head calls), each folded in by splitmix64.
pub fn call_seed(workload_seed: u64, purpose: u32, iteration: u32, layer: u32, head: u32) -> u64 {
    [purpose, iteration, layer, head]
        .iter()
        .fold(splitmix64(workload_seed), |acc, &x| {
            splitmix64(acc ^ x as u64)
        })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopkResult {
    /// Kept input positions, ascending.
    pub indices: Vec<u32>,
    /// Elements streamed through the comparators in each quick-select round.
    pub rounds: Vec<u32>,
    /// The k-th largest value (None when nothing was selected or everything was kept).
    pub threshold: Option<u64>,
    /// How many elements equal to `threshold` were kept (the earliest ones).
    pub keep_eq: u32,
}

/// Quick-select as the hardware runs it. Each round draws the pivot at position
/// `lfsr.next_word() % len` of the current FIFO, splits it into greater (-> R), equal
/// (counted) and smaller (-> L). With target t: if |G| > t continue in G; else if
/// |G| + n_eq >= t the pivot is the k-th largest and keep_eq = t - |G|; else t -= |G| + n_eq
/// and continue in L. The filter pass keeps every element above the threshold plus the first
/// keep_eq equal to it, so among equal values the earliest positions win.
pub fn quick_select(values: &[u64], k: usize, seed: u64) -> TopkResult {
    quick_select_lfsr(values, k, Lfsr::new(seed))
}

/// [`quick_select`] with the pivot generator given directly.
pub fn quick_select_lfsr(values: &[u64], k: usize, mut lfsr: Lfsr) -> TopkResult {
    select_with(values, k, &mut lfsr)
}

/// A hierarchical selection (SPEC.md 6.4): the k largest of `values` by an engine that holds
/// `capacity` candidates, as the quick-selects of [`TopkStage::plan`] run them with one
/// pivot generator seeded from `seed` (the flat call's). Returns the result (kept positions
/// of `values`, every stage's rounds in turn, the last stage's threshold) and the stages;
/// stages are empty, and the result is [`quick_select`]'s, when the candidates fit.
/// The kept positions are always [`quick_select`]'s: the k largest by value, then earliest
/// position, are each among the k largest of their tile under the same order.
pub fn hierarchical_select(
    values: &[u64],
    k: usize,
    capacity: Option<u32>,
    seed: u64,
) -> (TopkResult, Vec<TopkStage>) {
    let plan = capacity.map_or_else(Vec::new, |c| {
        TopkStage::plan(values.len() as u32, k as u32, c)
    });
    let mut lfsr = Lfsr::new(seed);
    if plan.is_empty() {
        return (select_with(values, k, &mut lfsr), Vec::new());
    }
    // Candidates of the current level, as positions of `values` in ascending order.
    let mut cand: Vec<u32> = (0..values.len() as u32).collect();
    let mut rounds = Vec::new();
    let mut stages = Vec::with_capacity(plan.len());
    let mut plan = plan.into_iter().peekable();
    loop {
        let mut winners = Vec::new();
        let mut start = 0usize;
        let mut last = None;
        while start < cand.len() {
            let (n, k_stage) = plan.next().expect("the plan covers every level");
            let tile = &cand[start..start + n as usize];
            let vals: Vec<u64> = tile.iter().map(|&i| values[i as usize]).collect();
            let r = select_with(&vals, k_stage as usize, &mut lfsr);
            stages.push(TopkStage {
                n,
                k: k_stage,
                rounds: r.rounds.len() as u32,
            });
            rounds.extend_from_slice(&r.rounds);
            winners.extend(r.indices.iter().map(|&j| tile[j as usize]));
            start += n as usize;
            last = Some((r.threshold, r.keep_eq));
        }
        cand = winners;
        if plan.peek().is_none() {
            let (threshold, keep_eq) = last.expect("a level has a stage");
            return (
                TopkResult {
                    indices: cand,
                    rounds,
                    threshold,
                    keep_eq,
                },
                stages,
            );
        }
    }
}

fn select_with(values: &[u64], k: usize, lfsr: &mut Lfsr) -> TopkResult {
    let n = values.len();
    if k == 0 || n == 0 {
        return TopkResult {
            indices: Vec::new(),
            rounds: Vec::new(),
            threshold: None,
            keep_eq: 0,
        };
    }
    if k >= n {
        return TopkResult {
            indices: (0..n as u32).collect(),
            rounds: Vec::new(),
            threshold: None,
            keep_eq: 0,
        };
    }
    let mut cur: Vec<u64> = values.to_vec();
    let mut target = k;
    let mut rounds = Vec::new();
    let (threshold, keep_eq) = loop {
        rounds.push(cur.len() as u32);
        let pivot = cur[lfsr.next_word() as usize % cur.len()];
        let mut greater = Vec::new();
        let mut smaller = Vec::new();
        let mut n_eq = 0usize;
        for &v in &cur {
            if v > pivot {
                greater.push(v);
            } else if v < pivot {
                smaller.push(v);
            } else {
                n_eq += 1;
            }
        }
        if greater.len() > target {
            cur = greater;
        } else if greater.len() + n_eq >= target {
            break (pivot, target - greater.len());
        } else {
            target -= greater.len() + n_eq;
            cur = smaller;
        }
    };
    // Filter pass over the buffered input; the second zero eliminator packs the positions.
    let mut eq_left = keep_eq;
    let keep: Vec<bool> = values
        .iter()
        .map(|&v| {
            if v > threshold {
                true
            } else if v == threshold && eq_left > 0 {
                eq_left -= 1;
                true
            } else {
                false
            }
        })
        .collect();
    let positions: Vec<u32> = (0..n as u32).collect();
    let packed = eliminate(&positions, &keep);
    let mut indices = packed.values;
    indices.truncate(packed.count);
    TopkResult {
        indices,
        rounds,
        threshold: Some(threshold),
        keep_eq: keep_eq as u32,
    }
}

/// The reference answer a full sort gives: order by value descending then position
/// ascending, take k, return positions ascending.
pub fn topk_by_sort(values: &[u64], k: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..values.len() as u32).collect();
    order.sort_by(|&a, &b| values[b as usize].cmp(&values[a as usize]).then(a.cmp(&b)));
    order.truncate(k);
    order.sort_unstable();
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn quick_select_equals_full_sort_with_duplicates(
            values in prop::collection::vec(0u64..8, 1..400),
            kf in 0.0f64..1.2,
            seed in any::<u64>(),
        ) {
            let k = (kf * values.len() as f64) as usize;
            let r = quick_select(&values, k, seed);
            prop_assert_eq!(&r.indices, &topk_by_sort(&values, k));
            prop_assert!(r.rounds.iter().all(|&x| x as usize <= values.len()));
            if k > 0 && k < values.len() {
                prop_assert_eq!(r.rounds[0] as usize, values.len());
                prop_assert!(r.rounds.windows(2).all(|w| w[1] < w[0]));
            } else {
                prop_assert!(r.rounds.is_empty());
            }
        }

        #[test]
        fn quick_select_equals_full_sort_wide_values(
            values in prop::collection::vec(any::<u64>(), 1..300),
            k in 0usize..300,
            seed in any::<u64>(),
        ) {
            prop_assert_eq!(quick_select(&values, k, seed).indices, topk_by_sort(&values, k));
        }

        #[test]
        fn hierarchical_selection_keeps_the_flat_selection(
            values in prop::collection::vec(0u64..6, 2..600),
            kf in 0.0f64..1.0,
            capacity in 2u32..80,
            seed in any::<u64>(),
        ) {
            let k = ((kf * values.len() as f64) as usize).clamp(1, values.len() - 1);
            let (r, stages) = hierarchical_select(&values, k, Some(capacity), seed);
            prop_assert_eq!(&r.indices, &topk_by_sort(&values, k));
            let plan = TopkStage::plan(values.len() as u32, k as u32, capacity);
            prop_assert_eq!(stages.iter().map(|s| (s.n, s.k)).collect::<Vec<_>>(), plan);
            if stages.is_empty() {
                prop_assert_eq!(r, quick_select(&values, k, seed));
            } else {
                prop_assert_eq!(
                    stages.iter().map(|s| s.rounds as usize).sum::<usize>(),
                    r.rounds.len()
                );
                // Every stage fits the engine and the last one keeps k.
                prop_assert!(stages.iter().all(|s| s.n <= capacity));
                prop_assert_eq!(stages.last().unwrap().k as usize, k);
            }
        }
    }

    #[test]
    fn hierarchical_plan_tiles_then_reduces_the_winners() {
        // 10 candidates, 2 kept, tiles of 4: winners 2 + 2 + 2 = 6 > 4, again 2 + 2, then 2 of 4.
        assert_eq!(
            TopkStage::plan(10, 2, 4),
            vec![(4, 2), (4, 2), (2, 2), (4, 2), (2, 2), (4, 2)]
        );
        assert!(TopkStage::plan(4, 2, 4).is_empty(), "fits");
        assert!(TopkStage::plan(10, 4, 4).is_empty(), "cannot shrink");
        // The kept set is the flat one's; the rounds are the stages' own.
        let values: Vec<u64> = (0..10u64).map(|i| (i * 7) % 10).collect();
        let (r, stages) = hierarchical_select(&values, 2, Some(4), 3);
        assert_eq!(r.indices, topk_by_sort(&values, 2));
        assert_eq!(stages.len(), 6);
        // Each stage's rounds start from its own candidates.
        let mut rounds = r.rounds.iter();
        for s in &stages {
            let mine: Vec<u32> = rounds.by_ref().take(s.rounds as usize).copied().collect();
            assert!(mine.first().is_none_or(|&f| f == s.n), "{mine:?} of {s:?}");
        }
    }

    #[test]
    fn ties_keep_the_earliest_positions() {
        let r = quick_select(&[5, 3, 5, 5, 1, 5], 3, 7);
        assert_eq!(r.indices, vec![0, 2, 3]);
        assert_eq!(r.threshold, Some(5));
        assert_eq!(r.keep_eq, 3);
    }

    #[test]
    fn lfsr_is_deterministic_and_nonzero() {
        let mut a = Lfsr::new(42);
        let mut b = Lfsr::new(42);
        for _ in 0..100 {
            let x = a.next_word();
            assert_eq!(x, b.next_word());
            assert_ne!(x, 0);
        }
        assert_ne!(call_seed(1, 0, 0, 3, 0), call_seed(1, 0, 0, 4, 0));
    }
}
