//! Q x K: integer dot products of 12-bit words (SPEC.md section 3).

/// Product of two 12-bit words is 23 bits plus sign; a sum of D <= 128 of them fits 31 bits.
pub const SCORE_BITS: u32 = 31;

/// One score: sum over d of q[d] x k[d], exact in i32 for D <= 128 and |words| <= 2047.
#[inline]
pub fn dot(q: &[i16], k: &[i16]) -> i32 {
    q.iter().zip(k).map(|(&a, &b)| a as i32 * b as i32).sum()
}

/// Scores of one query row against `keys` (row-major, `head_dim` words per key).
pub fn scores(q: &[i16], keys: &[i16], head_dim: usize, out: &mut Vec<i32>) {
    out.clear();
    out.extend(keys.chunks_exact(head_dim).map(|k| dot(q, k)));
}

/// Real value of one score unit: q_word_scale x k_word_scale / sqrt(D). The 1/sqrt(D) of
/// attention is folded here so the datapath never divides by it.
pub fn score_unit(q_word_scale: f64, k_word_scale: f64, head_dim: usize) -> f64 {
    q_word_scale * k_word_scale / (head_dim as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extreme_words_do_not_overflow() {
        let q = vec![-2047i16; 128];
        let k = vec![-2047i16; 128];
        assert_eq!(dot(&q, &k) as i64, 2047i64 * 2047 * 128);
        assert!(((2047i64 * 2047 * 128) as u64) < 1 << SCORE_BITS);
    }

    proptest! {
        #[test]
        fn scores_equal_i64_dot_products(
            d in 1usize..129,
            n in 1usize..20,
            seed in any::<u64>(),
        ) {
            let mut s = seed;
            let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((s >> 33) % 4095) as i16 - 2047 };
            let q: Vec<i16> = (0..d).map(|_| next()).collect();
            let k: Vec<i16> = (0..d * n).map(|_| next()).collect();
            let mut out = Vec::new();
            scores(&q, &k, d, &mut out);
            for j in 0..n {
                let want: i64 = (0..d).map(|i| q[i] as i64 * k[j * d + i] as i64).sum();
                prop_assert_eq!(out[j] as i64, want);
            }
        }
    }
}
