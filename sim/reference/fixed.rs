//! Shared fixed-point helpers: rounding shifts, saturation and the scale register.
//!
//! Every rounding rule of SPEC.md lives here so that the datapath files cannot drift apart.

/// Arithmetic right shift by `s` bits, rounding half up (towards +infinity), as an adder of
/// `1 << (s - 1)` in front of the shifter does.
#[inline]
pub fn rshift_round_i64(x: i64, s: u32) -> i64 {
    if s == 0 {
        x
    } else {
        (x + (1i64 << (s - 1))) >> s
    }
}

/// Unsigned right shift by `s` bits, rounding half up. Shifts of 128 or more give 0.
#[inline]
pub fn rshift_round_u128(x: u128, s: u32) -> u128 {
    match s {
        0 => x,
        s if s >= 128 => 0,
        s => (x >> s) + ((x >> (s - 1)) & 1),
    }
}

/// Clamps to the signed range of `bits` bits, symmetric: [-(2^(bits-1) - 1), 2^(bits-1) - 1].
#[inline]
pub fn saturate_symmetric(x: i64, bits: u32) -> i64 {
    let max = (1i64 << (bits - 1)) - 1;
    x.clamp(-max, max)
}

/// Signed integer division rounding half away from zero (`d` > 0).
#[inline]
pub fn div_round_away(n: i64, d: i64) -> i64 {
    let m = (2 * n.unsigned_abs() + d as u64) / (2 * d as u64);
    if n < 0 { -(m as i64) } else { m as i64 }
}

/// Bits of the scale register's mantissa.
pub const SCALE_MANTISSA_BITS: u32 = 24;

/// A positive real constant held as `mantissa x 2^-shift`, with a normalized 24-bit mantissa
/// (2^23 <= mantissa < 2^24). The host computes it once per head call from f64 scales; that
/// conversion is the only floating-point step of the datapath (SPEC.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleReg {
    pub mantissa: u32,
    pub shift: i32,
}

impl ScaleReg {
    /// Rounds a positive finite `value` to the nearest register value; `None` for zero,
    /// negative or non-finite input, and for subnormal input (below 2^-1022, far below any
    /// scale of f32 activations: such a register would shift by more than 1000 bits).
    pub fn from_f64(value: f64) -> Option<ScaleReg> {
        if !(value.is_finite() && value >= f64::MIN_POSITIVE) {
            return None;
        }
        // frexp from the bits: value = f x 2^e with f in [0.5, 1), both exact (the loop it
        // replaces never ended for values of 2^1023 and above, where 2^e is not a double).
        let bits = value.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32 - 1022;
        let f = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
        let mut mantissa = (f * (1u64 << SCALE_MANTISSA_BITS) as f64).round() as u64;
        let mut shift = SCALE_MANTISSA_BITS as i32 - e;
        if mantissa == 1u64 << SCALE_MANTISSA_BITS {
            mantissa >>= 1;
            shift -= 1;
        }
        Some(ScaleReg {
            mantissa: mantissa as u32,
            shift,
        })
    }

    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 * pow2(-self.shift)
    }

    /// `x x value` in fixed point with `frac_bits` fractional bits, rounded half up,
    /// saturated at `u64::MAX`.
    #[inline]
    pub fn mul_to_fixed(self, x: u64, frac_bits: u32) -> u64 {
        let s = self.shift - frac_bits as i32;
        // Fast path, same result: the product fits 64 bits and the shift is a plain one.
        if x < 1 << 40 && (1..64).contains(&s) {
            let prod = x * self.mantissa as u64;
            return (prod >> s) + ((prod >> (s - 1)) & 1);
        }
        let prod = x as u128 * self.mantissa as u128;
        let r = if prod == 0 {
            // Zero times any constant is zero, however far the constant shifts left (the
            // softmax's maximum score has t = 0 even when the multiplier is huge).
            0
        } else if s >= 0 {
            rshift_round_u128(prod, s as u32)
        } else if (-s) as u32 >= 64 || prod.leading_zeros() < (-s) as u32 {
            u128::MAX
        } else {
            prod << (-s) as u32
        };
        r.min(u64::MAX as u128) as u64
    }
}

/// 2^e exactly for the exponents a scale register can need.
pub fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023).clamp(1, 2046) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rounding_shift_rounds_half_up() {
        assert_eq!(rshift_round_i64(5, 1), 3);
        assert_eq!(rshift_round_i64(-5, 1), -2);
        assert_eq!(rshift_round_i64(-6, 2), -1);
        assert_eq!(rshift_round_u128(6, 2), 2);
        assert_eq!(rshift_round_u128(5, 2), 1);
        assert_eq!(div_round_away(-6, 4), -2);
        assert_eq!(div_round_away(5, 4), 1);
        assert_eq!(div_round_away(6, 4), 2);
    }

    #[test]
    fn extreme_registers_are_exact_and_zero_stays_zero() {
        // 2^1023 and f64::MAX once sent the exponent search into an endless loop.
        for v in [2f64.powi(1023), 1e300, 1e-300] {
            let r = ScaleReg::from_f64(v).unwrap();
            assert!(r.mantissa >= 1 << 23 && r.mantissa < 1 << 24, "{v}: {r:?}");
            assert!(
                (r.to_f64() / v - 1.0).abs() <= 1.0 / (1u64 << 24) as f64,
                "{v}"
            );
        }
        // f64::MAX rounds up to 2^1024, which the register holds (and an f64 does not).
        let r = ScaleReg::from_f64(f64::MAX).unwrap();
        assert_eq!((r.mantissa, r.shift), (1 << 23, 24 - 1025));
        // The smallest normal value still terminates; subnormal ones are refused.
        assert!(ScaleReg::from_f64(f64::MIN_POSITIVE).is_some());
        assert_eq!(ScaleReg::from_f64(f64::MIN_POSITIVE / 2.0), None);
        let huge = ScaleReg::from_f64(1e70).unwrap();
        assert_eq!(huge.mul_to_fixed(0, 16), 0);
        assert_eq!(huge.mul_to_fixed(1, 16), u64::MAX);
    }

    proptest! {
        #[test]
        fn scale_register_is_within_half_ulp(v in 1e-12f64..1e12) {
            let r = ScaleReg::from_f64(v).unwrap();
            prop_assert!(r.mantissa >= 1 << 23 && r.mantissa < 1 << 24);
            let rel = (r.to_f64() - v).abs() / v;
            prop_assert!(rel <= 0.5 / (1u64 << 23) as f64, "rel {rel}");
        }

        #[test]
        fn mul_to_fixed_fast_path_equals_the_128_bit_rule(
            m in (1u32 << 23)..(1 << 24), shift in -10i32..80, x in any::<u64>(), frac in 0u32..24,
        ) {
            let r = ScaleReg { mantissa: m, shift };
            let prod = x as u128 * m as u128;
            let s = shift - frac as i32;
            let want = if s >= 0 {
                rshift_round_u128(prod, s as u32).min(u64::MAX as u128) as u64
            } else {
                prod.checked_shl((-s) as u32).filter(|v| v >> (-s) as u32 == prod).map_or(u64::MAX, |v| v.min(u64::MAX as u128) as u64)
            };
            prop_assert_eq!(r.mul_to_fixed(x, frac), want);
            let xs = x >> 30;
            let prod = xs as u128 * m as u128;
            let want = if s >= 0 { rshift_round_u128(prod, s as u32).min(u64::MAX as u128) as u64 } else { r.mul_to_fixed(xs, frac) };
            prop_assert_eq!(r.mul_to_fixed(xs, frac), want);
        }

        #[test]
        fn mul_to_fixed_matches_f64(v in 1e-6f64..1e3, x in 0u64..1 << 40, frac in 0u32..24) {
            let r = ScaleReg::from_f64(v).unwrap();
            let exact = (x as f64 * r.to_f64() * pow2(frac as i32)).min(u64::MAX as f64);
            let got = r.mul_to_fixed(x, frac) as f64;
            prop_assert!((got - exact).abs() <= 0.5 + exact * 1e-15, "{got} vs {exact}");
        }
    }
}
