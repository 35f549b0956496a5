//! Prob x V: 12-bit probabilities times 12-bit value words, accumulated, requantized to a
//! 12-bit output word in the value's scale (SPEC.md section 7).

use super::fixed::{div_round_away, saturate_symmetric};
use super::quant::WORD_BITS;
use super::softmax::PROB_ONE;

/// |acc| <= 2047 x sum(p_q) <= 2047 x (4095 + n/2); below 2^31 for n <= 2^17 keys.
pub const PV_ACC_BITS: u32 = 32;

/// One output row: out[d] = sat12(round_half_away(sum_j p[j] x v[j][d] / 4095)). `values`
/// holds the rows matching `probs`, row-major with `head_dim` words each.
pub fn pv_row(probs: &[u16], values: &[i16], head_dim: usize, acc: &mut Vec<i32>, out: &mut [i16]) {
    acc.clear();
    acc.resize(head_dim, 0);
    for (&p, row) in probs.iter().zip(values.chunks_exact(head_dim)) {
        if p == 0 {
            continue;
        }
        let p = p as i32;
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += p * v as i32;
        }
    }
    for (o, &a) in out.iter_mut().zip(acc.iter()) {
        *o = saturate_symmetric(div_round_away(a as i64, PROB_ONE as i64), WORD_BITS) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pv_matches_exact_rational_within_half_a_word(
            rows in prop::collection::vec((0u16..=4095, prop::collection::vec(-2047i16..=2047, 4)), 1..50),
        ) {
            // Normalise the probabilities so that they sum to about 4095, as softmax does.
            let total: u32 = rows.iter().map(|r| r.0 as u32).sum::<u32>().max(1);
            let probs: Vec<u16> = rows.iter().map(|r| (r.0 as u32 * 4095 / total) as u16).collect();
            let values: Vec<i16> = rows.iter().flat_map(|r| r.1.clone()).collect();
            let mut acc = Vec::new();
            let mut out = vec![0i16; 4];
            pv_row(&probs, &values, 4, &mut acc, &mut out);
            for (d, &got) in out.iter().enumerate() {
                let exact: f64 = probs.iter().zip(&rows).map(|(&p, r)| p as f64 * r.1[d] as f64).sum::<f64>() / 4095.0;
                let clamped = exact.clamp(-2047.0, 2047.0);
                prop_assert!((got as f64 - clamped).abs() <= 0.5, "{} vs {}", got, exact);
            }
        }
    }
}
