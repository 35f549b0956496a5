//! Importance accumulators: token scores (sum of probabilities) and head scores (sum of
//! abs(attention_out)), with their widths and saturation (SPEC.md section 8).

use super::fixed::ScaleReg;

/// Token scores: unsigned, probability units (1.0 = 4095), saturating at 2^32 - 1.
pub const TOKEN_IMPORTANCE_BITS: u32 = 32;
/// Head scores: unsigned Q32.16 of the real sum of |attention_out|, saturating at 2^48 - 1.
pub const HEAD_IMPORTANCE_BITS: u32 = 48;
pub const HEAD_IMPORTANCE_FRAC_BITS: u32 = 16;

pub fn saturating_add_bits(acc: u64, inc: u64, bits: u32) -> u64 {
    acc.saturating_add(inc).min((1u64 << bits) - 1)
}

pub fn add_token(acc: &mut u64, inc: u64) {
    *acc = saturating_add_bits(*acc, inc, TOKEN_IMPORTANCE_BITS);
}

pub fn add_head(acc: &mut u64, inc: u64) {
    *acc = saturating_add_bits(*acc, inc, HEAD_IMPORTANCE_BITS);
}

/// A head call's increment: sum |o| over its 12-bit output words, times the value word scale
/// register, in Q.16. Heads have different scales, so the sum is brought to real units
/// before heads are compared.
pub fn head_increment(abs_sum_words: u64, value_word_scale: f64) -> u64 {
    ScaleReg::from_f64(value_word_scale).map_or(0, |r| head_increment_reg(abs_sum_words, r))
}

/// [`head_increment`] with the scale register given directly.
pub fn head_increment_reg(abs_sum_words: u64, reg: ScaleReg) -> u64 {
    reg.mul_to_fixed(abs_sum_words, HEAD_IMPORTANCE_FRAC_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulators_saturate_at_their_width() {
        let mut t = (1u64 << 32) - 10;
        add_token(&mut t, 100);
        assert_eq!(t, (1 << 32) - 1);
        let mut h = 5;
        add_head(&mut h, u64::MAX);
        assert_eq!(h, (1 << 48) - 1);
    }

    #[test]
    fn head_increment_is_the_real_sum_in_q16() {
        let inc = head_increment(1000, 0.01);
        assert!((inc as f64 / 65536.0 - 10.0).abs() < 1e-4);
        assert_eq!(head_increment(5, 0.0), 0);
    }
}
