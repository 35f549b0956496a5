//! Pruning decisions: keep counts from the schedules, token and head top-k selection, and the
//! local V keep count (SPEC.md section 9).

use super::topk::{TopkResult, quick_select};

/// Keeps ceil(x - 1e-9): the epsilon absorbs f64 noise such as 0.3 x 10 = 3.0000000000000004
/// so that a ratio never prunes fewer elements than it says because of rounding.
fn ceil_eps(x: f64) -> u32 {
    (x - 1e-9).ceil().max(0.0) as u32
}

/// Elements kept out of `original` under a cumulative pruning ratio: ceil(original x (1 - r)).
pub fn keep_count(original: u32, ratio: f64) -> u32 {
    ceil_eps(original as f64 * (1.0 - ratio)).min(original)
}

/// V rows fetched out of `n` surviving keys: ceil(keep_ratio x n), at least one.
pub fn local_v_keep(n: u32, keep_ratio: f64) -> u32 {
    if n == 0 {
        0
    } else {
        ceil_eps(n as f64 * keep_ratio).clamp(1, n)
    }
}

/// Outcome of a pruning step over `alive` ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Ids kept, ascending.
    pub kept: Vec<u32>,
    /// The top-k run, if one was needed (k below the candidate count).
    pub topk: Option<TopkResult>,
    /// Candidates the engine saw and how many it kept.
    pub n: u32,
    pub k: u32,
}

/// Keeps `keep` of the ascending `alive` ids by `score(id)`; `exempt` (if alive) is always
/// kept and does not take part in the top-k. Nothing runs when nothing would be pruned.
pub fn select(
    alive: &[u32],
    keep: u32,
    exempt: Option<u32>,
    score: impl Fn(u32) -> u64,
    seed: u64,
) -> Selection {
    let exempt = exempt.filter(|e| alive.binary_search(e).is_ok());
    let candidates: Vec<u32> = alive
        .iter()
        .copied()
        .filter(|&t| Some(t) != exempt)
        .collect();
    let k = (keep as usize)
        .saturating_sub(usize::from(exempt.is_some()))
        .min(candidates.len());
    if k == candidates.len() {
        return Selection {
            kept: alive.to_vec(),
            topk: None,
            n: 0,
            k: 0,
        };
    }
    let values: Vec<u64> = candidates.iter().map(|&t| score(t)).collect();
    let r = quick_select(&values, k, seed);
    let mut kept: Vec<u32> = r.indices.iter().map(|&i| candidates[i as usize]).collect();
    if let Some(e) = exempt {
        let at = kept.partition_point(|&t| t < e);
        kept.insert(at, e);
    }
    Selection {
        kept,
        n: candidates.len() as u32,
        k: k as u32,
        topk: Some(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_counts_round_up_against_the_original() {
        assert_eq!(keep_count(10, 0.7), 3);
        assert_eq!(keep_count(992, 0.0), 992);
        assert_eq!(keep_count(12, 0.1), 11);
        assert_eq!(local_v_keep(10, 0.3), 3);
        assert_eq!(local_v_keep(993, 0.3), 298);
        assert_eq!(local_v_keep(1, 0.01), 1);
    }

    #[test]
    fn exempt_token_survives_and_others_compete() {
        let alive = [0, 2, 3, 5, 9];
        let s = select(
            &alive,
            3,
            Some(9),
            |t| [5, 0, 1, 7, 0, 2, 0, 0, 0, 0][t as usize],
            1,
        );
        assert_eq!(s.kept, vec![0, 3, 9]);
        assert_eq!((s.n, s.k), (4, 2));
        let none = select(&alive, 5, None, |_| 0, 1);
        assert!(none.topk.is_none());
        assert_eq!(none.kept, alive.to_vec());
    }
}
