//! Fixed-point softmax: exp by range reduction and two 256-entry tables, accumulation,
//! reciprocal and requantization of probabilities to 12 bits (SPEC.md section 4).

use std::sync::OnceLock;

use super::fixed::ScaleReg;

/// Fractional bits of the base-2 exponent t = (max - s) x unit x log2(e).
pub const T_FRAC_BITS: u32 = 16;
/// Fractional bits of exp values: exp(0) = 2^24.
pub const EXP_FRAC_BITS: u32 = 24;
/// Exponents with integer part above this underflow to zero.
pub const T_MAX_INT: u32 = EXP_FRAC_BITS;
/// Probabilities are 12-bit unsigned: real value p_q / 4095, so 1.0 is representable.
pub const PROB_ONE: u32 = 4095;
pub const PROB_BITS: u32 = 12;
/// Fractional bits of the reciprocal: recip = floor(4095 x 2^40 / sum).
pub const RECIP_FRAC_BITS: u32 = 40;

/// The two exp ROMs: HI[a] = round(2^24 x 2^(-a/256)), LO[b] = round(2^24 x 2^(-b/65536)).
pub fn exp_tables() -> &'static ([u32; 256], [u32; 256]) {
    static T: OnceLock<([u32; 256], [u32; 256])> = OnceLock::new();
    T.get_or_init(|| {
        let one = (1u64 << EXP_FRAC_BITS) as f64;
        let mut hi = [0u32; 256];
        let mut lo = [0u32; 256];
        for i in 0..256 {
            hi[i] = (one * libm::exp2(-(i as f64) / 256.0)).round() as u32;
            lo[i] = (one * libm::exp2(-(i as f64) / 65536.0)).round() as u32;
        }
        (hi, lo)
    })
}

/// 2^(-t / 2^16) in Q24 for t >= 0: integer part as a shift, the 16 fraction bits split
/// into two table indices whose entries are multiplied.
#[inline]
pub fn exp2_neg(t: u32) -> u32 {
    let n = t >> T_FRAC_BITS;
    if n > T_MAX_INT {
        return 0;
    }
    let (hi, lo) = exp_tables();
    let a = ((t >> 8) & 0xFF) as usize;
    let b = (t & 0xFF) as usize;
    // 25 x 25 bits: the product and both roundings fit 64 bits.
    let prod = hi[a] as u64 * lo[b] as u64;
    let mant = (prod >> EXP_FRAC_BITS) + ((prod >> (EXP_FRAC_BITS - 1)) & 1);
    if n == 0 {
        mant as u32
    } else {
        ((mant >> n) + ((mant >> (n - 1)) & 1)) as u32
    }
}

/// The softmax multiplier register: score_unit x log2(e), so t = (max - s) x multiplier.
pub fn multiplier(score_unit: f64) -> ScaleReg {
    ScaleReg::from_f64(score_unit * std::f64::consts::LOG2_E).unwrap_or(ScaleReg {
        mantissa: 0,
        shift: 0,
    })
}

/// The row's intermediate registers, exported in the golden vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SoftmaxStats {
    pub max: i32,
    /// Sum of the Q.24 exps.
    pub sum: u64,
    /// floor(4095 x 2^40 / sum).
    pub recip: u64,
}

/// exp(-(hi - lo) x unit) in Q.24 for scores `hi >= lo`: the base-2 exponent saturates
/// beyond the underflow point (25 x 2^16 already gives 0).
#[inline]
fn exp_of_gap(mult: ScaleReg, hi: i32, lo: i32) -> u32 {
    let t_cap = ((T_MAX_INT + 1) << T_FRAC_BITS) as u64;
    let d = (hi as i64 - lo as i64) as u64;
    exp2_neg(mult.mul_to_fixed(d, T_FRAC_BITS).min(t_cap) as u32)
}

/// The sum of a row's exponentials as a two-pass design's first pass makes it, over tiles of
/// `tile` keys (SPEC.md 9b): a running max `m` and sum `S`; a tile whose maximum `m'` exceeds
/// `m` first rescales `S` to `rshift_round(S x E(m' - m), 24)`, then adds its exponentials
/// against `m'`. Equal to the exact sum when no later tile raises the maximum.
pub fn online_sum(scores: &[i32], mult: ScaleReg, tile: usize) -> u64 {
    let mut max = i32::MIN;
    let mut sum: u64 = 0;
    for chunk in scores.chunks(tile.max(1)) {
        let m = chunk.iter().copied().max().unwrap_or(max);
        if m > max {
            if sum > 0 {
                // sum < 2^42 and the factor <= 2^24: the product needs 66 bits.
                let prod = sum as u128 * exp_of_gap(mult, m, max) as u128;
                sum = ((prod >> EXP_FRAC_BITS) + ((prod >> (EXP_FRAC_BITS - 1)) & 1)) as u64;
            }
            max = m;
        }
        sum += chunk
            .iter()
            .map(|&s| exp_of_gap(mult, max, s) as u64)
            .sum::<u64>();
    }
    sum
}

/// Probabilities of one row of scores (12-bit, see [`PROB_ONE`]); `exps` receives the Q.24
/// exps. An empty row gives zeroed stats.
pub fn softmax_row(
    scores: &[i32],
    mult: ScaleReg,
    exps: &mut Vec<u32>,
    probs: &mut Vec<u16>,
) -> SoftmaxStats {
    softmax_row_tiled(scores, mult, None, exps, probs)
}

/// [`softmax_row`], with the sum made by [`online_sum`] over tiles of `tile` keys when given
/// (a two-pass design's tiled summarization row); the exponentials and probabilities are then
/// those of the second pass, against the row's maximum, divided by that sum.
pub fn softmax_row_tiled(
    scores: &[i32],
    mult: ScaleReg,
    tile: Option<usize>,
    exps: &mut Vec<u32>,
    probs: &mut Vec<u16>,
) -> SoftmaxStats {
    probs.clear();
    exps.clear();
    let Some(&max) = scores.iter().max() else {
        return SoftmaxStats::default();
    };
    let mut sum: u64 = 0;
    for &s in scores {
        let e = exp_of_gap(mult, max, s);
        sum += e as u64;
        exps.push(e);
    }
    if let Some(t) = tile.filter(|&t| t < scores.len()) {
        sum = online_sum(scores, mult, t);
    }
    // The max element contributes exp(0) = 2^24 (t = 0 for any multiplier; in an online sum
    // its tile is the last to raise the maximum, so nothing rescales it), so sum >= 2^24 and
    // recip < 2^28; the guard only keeps a broken invariant from dividing by zero.
    let recip = ((PROB_ONE as u64) << RECIP_FRAC_BITS) / sum.max(1);
    probs.extend(exps.iter().map(|&e| {
        // e <= 2^24 and recip < 2^28: the product fits 64 bits.
        let prod = e as u64 * recip;
        let p = ((prod >> RECIP_FRAC_BITS) + ((prod >> (RECIP_FRAC_BITS - 1)) & 1)) as u32;
        p.min(PROB_ONE) as u16
    }));
    SoftmaxStats { max, sum, recip }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exp_is_accurate_over_the_table_range() {
        for t in (0u32..(26 << 16)).step_by(997) {
            let want = (1u64 << 24) as f64 * (-(t as f64) / 65536.0).exp2();
            let got = exp2_neg(t) as f64;
            assert!(
                (got - want).abs() <= 2.0 + want * 1e-7,
                "t={t}: {got} vs {want}"
            );
        }
        assert_eq!(exp2_neg(0), 1 << 24);
    }

    /// Stated bound (SPEC.md section 4): |p_q / 4095 - p| <= 0.5/4095 + 3e-5 per element,
    /// for scores whose spread x unit stays below 2^20.
    const P_BOUND: f64 = 0.5 / 4095.0 + 3e-5;

    proptest! {
        #[test]
        fn softmax_matches_f64_within_the_stated_bound(
            scores in prop::collection::vec(-200_000i32..200_000, 1..300),
            unit in 1e-6f64..1e-3,
        ) {
            let mult = multiplier(unit);
            let (mut e, mut p) = (Vec::new(), Vec::new());
            softmax_row(&scores, mult, &mut e, &mut p);
            let max = *scores.iter().max().unwrap() as f64;
            let ex: Vec<f64> = scores.iter().map(|&s| ((s as f64 - max) * unit).exp()).collect();
            let sum: f64 = ex.iter().sum();
            let mut total = 0.0;
            for (j, &pq) in p.iter().enumerate() {
                let got = pq as f64 / 4095.0;
                total += got;
                prop_assert!((got - ex[j] / sum).abs() <= P_BOUND, "j={j} got {got} want {}", ex[j] / sum);
            }
            prop_assert!((total - 1.0).abs() <= scores.len() as f64 * P_BOUND);
        }
    }

    /// Times a later tile raised a row's running maximum.
    fn rescales(scores: &[i32], tile: usize) -> usize {
        let mut max = i32::MIN;
        let mut n = 0;
        for (i, c) in scores.chunks(tile).enumerate() {
            let m = *c.iter().max().unwrap();
            if m > max {
                n += usize::from(i > 0);
                max = m;
            }
        }
        n
    }

    /// Stated bound (SPEC.md 9b): each rescale moves the online sum by at most 6e-6 of
    /// itself plus one unit of rounding.
    const RESCALE_REL: f64 = 6e-6;

    proptest! {
        #[test]
        fn online_sum_is_exact_without_rescales_and_within_the_bound_with_them(
            scores in prop::collection::vec(-200_000i32..200_000, 1..300),
            tile in 1usize..64,
            unit in 1e-6f64..1e-3,
        ) {
            let mult = multiplier(unit);
            let (mut e, mut p) = (Vec::new(), Vec::new());
            let exact = softmax_row(&scores, mult, &mut e, &mut p);
            let (mut e2, mut p2) = (Vec::new(), Vec::new());
            let tiled = softmax_row_tiled(&scores, mult, Some(tile), &mut e2, &mut p2);
            prop_assert_eq!(&e, &e2);
            prop_assert_eq!(exact.max, tiled.max);
            let r = rescales(&scores, tile);
            if r == 0 {
                prop_assert_eq!(exact, tiled);
                prop_assert_eq!(&p, &p2);
            }
            let s = exact.sum as f64;
            let bound = r as f64 * (s * RESCALE_REL + 1.0);
            prop_assert!((tiled.sum as f64 - s).abs() <= bound, "{} vs {} ({r} rescales)", tiled.sum, s);
            if r <= 20 {
                for (a, b) in p.iter().zip(&p2) {
                    prop_assert!(a.abs_diff(*b) <= 1, "{a} vs {b}");
                }
            }
        }

        #[test]
        fn tiled_softmax_matches_f64_within_the_stated_bound(
            scores in prop::collection::vec(-200_000i32..200_000, 1..300),
            tile in 1usize..64,
            unit in 1e-6f64..1e-3,
        ) {
            let (mut e, mut p) = (Vec::new(), Vec::new());
            softmax_row_tiled(&scores, multiplier(unit), Some(tile), &mut e, &mut p);
            let max = *scores.iter().max().unwrap() as f64;
            let ex: Vec<f64> = scores.iter().map(|&s| ((s as f64 - max) * unit).exp()).collect();
            let sum: f64 = ex.iter().sum();
            let r = rescales(&scores, tile) as f64;
            for (j, &pq) in p.iter().enumerate() {
                let want = ex[j] / sum;
                let bound = P_BOUND + want * r * RESCALE_REL * 1.01;
                prop_assert!((pq as f64 / 4095.0 - want).abs() <= bound, "j={j}");
            }
        }
    }

    #[test]
    fn a_rising_row_rescales_at_every_tile() {
        // Ascending scores: every tile raises the maximum, the worst case for the online sum.
        let scores: Vec<i32> = (0..256).map(|i| i * 400).collect();
        let mult = multiplier(1e-4);
        let (mut e, mut p) = (Vec::new(), Vec::new());
        let exact = softmax_row(&scores, mult, &mut e, &mut p);
        let tiled = softmax_row_tiled(&scores, mult, Some(16), &mut e, &mut p);
        assert_eq!(rescales(&scores, 16), 15);
        assert_ne!(exact.sum, tiled.sum);
        let rel = (tiled.sum as f64 - exact.sum as f64).abs() / exact.sum as f64;
        assert!(rel <= 15.0 * RESCALE_REL, "{rel}");
        // A tile of the whole row is the exact softmax.
        let whole = softmax_row_tiled(&scores, mult, Some(256), &mut e, &mut p);
        assert_eq!(whole, exact);
    }

    #[test]
    fn a_huge_multiplier_saturates_instead_of_dividing_by_zero() {
        // Values near f32::MAX give score units near 1e70: every non-maximal exp underflows
        // and the maximum takes all the probability.
        let (mut e, mut p) = (Vec::new(), Vec::new());
        let st = softmax_row(&[5, -3, 5, 0], multiplier(1e70), &mut e, &mut p);
        assert_eq!(st.sum, 2 << 24);
        assert_eq!(p, vec![2048, 0, 2048, 0]);
    }

    #[test]
    fn equal_scores_give_equal_probabilities() {
        let (mut e, mut p) = (Vec::new(), Vec::new());
        softmax_row(&[7; 10], multiplier(1e-3), &mut e, &mut p);
        assert!(p.iter().all(|&x| x == 410)); // round(4095 / 10)
    }
}
