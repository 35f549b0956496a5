//! Symmetric linear quantization to MSB+LSB formats, the MSB-only and merged 12-bit views,
//! and the bit-packed DRAM planes (SPEC.md section 2).

use super::error::ReferenceError;

/// Width of every on-chip value after the bitwidth converter.
pub const WORD_BITS: u32 = 12;

/// A storage format: `msb_bits` fetched first, `lsb_bits` (0 or 4) fetched on refetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantFormat {
    pub msb_bits: u32,
    pub lsb_bits: u32,
}

impl QuantFormat {
    /// A format without an LSB plane (static quantization, and the 12-bit query).
    pub fn single(bits: u32) -> Self {
        QuantFormat {
            msb_bits: bits,
            lsb_bits: 0,
        }
    }

    pub fn total_bits(self) -> u32 {
        self.msb_bits + self.lsb_bits
    }

    /// Largest level: levels lie in [-max_level, max_level] (symmetric, no -2^(B-1)).
    pub fn max_level(self) -> i32 {
        (1 << (self.total_bits() - 1)) - 1
    }

    /// Left shift that aligns a level to the 12-bit on-chip word.
    pub fn word_shift(self) -> u32 {
        WORD_BITS - self.total_bits()
    }

    pub fn is_valid(self) -> bool {
        (2..=WORD_BITS).contains(&self.total_bits()) && self.msb_bits >= 1
    }
}

/// One tensor (one head's Q, K or V rows) quantized with one scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    pub format: QuantFormat,
    /// Real value of one level: max|x| / max_level (1.0 for an all-zero tensor).
    pub scale: f64,
    /// Signed levels, in the input order.
    pub levels: Vec<i16>,
}

/// Quantizes `x` with one symmetric scale (see [`quantize_rows`]).
pub fn quantize(x: &[f32], format: QuantFormat, what: &str) -> Result<Quantized, ReferenceError> {
    quantize_rows(&[x], format, what)
}

/// Quantizes the concatenation of `rows` with one symmetric scale:
/// level = clamp(round_half_away(x x inv_scale)), inv_scale = max_level / max|x|.
pub fn quantize_rows(
    rows: &[&[f32]],
    format: QuantFormat,
    what: &str,
) -> Result<Quantized, ReferenceError> {
    let mut max_abs = 0.0f32;
    let mut base = 0;
    for row in rows {
        for (i, &v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Err(ReferenceError::NonFinite {
                    what: what.to_string(),
                    index: base + i,
                    value: v,
                });
            }
            max_abs = max_abs.max(v.abs());
        }
        base += row.len();
    }
    let (scale, inv) = scale_pair(max_abs, format);
    let mut levels = Vec::with_capacity(base);
    for row in rows {
        quantize_into(row, inv, format, &mut levels);
    }
    Ok(Quantized {
        format,
        scale,
        levels,
    })
}

/// (scale, inv_scale) for a tensor whose largest magnitude is `max_abs`.
pub fn scale_pair(max_abs: f32, format: QuantFormat) -> (f64, f64) {
    let max_level = format.max_level() as f64;
    if max_abs > 0.0 {
        let m = max_abs as f64;
        (m / max_level, max_level / m)
    } else {
        (1.0, 1.0)
    }
}

/// Appends the levels of `x` at a given inverse scale.
#[inline]
pub fn quantize_into(x: &[f32], inv: f64, format: QuantFormat, out: &mut Vec<i16>) {
    let lim = format.max_level() as i64;
    out.extend(
        x.iter()
            .map(|&v| round_half_away(v as f64 * inv).clamp(-lim, lim) as i16),
    );
}

/// f64::round (half away from zero) without a libm call; exact for |v| < 2^52, and the
/// quantizer's |v| <= 2047 (1 + 2^-52).
#[inline]
pub fn round_half_away(v: f64) -> i64 {
    let i = v as i64;
    let frac = v - i as f64;
    if frac >= 0.5 {
        i + 1
    } else if frac <= -0.5 {
        i - 1
    } else {
        i
    }
}

impl Quantized {
    /// Real value of one unit of the 12-bit on-chip word.
    pub fn word_scale(&self) -> f64 {
        self.scale / (1u32 << self.format.word_shift()) as f64
    }

    /// The merged view: all MSB+LSB bits, left-aligned in the 12-bit word.
    pub fn merged_words(&self) -> Vec<i16> {
        let s = self.format.word_shift();
        self.levels.iter().map(|&q| q << s).collect()
    }

    /// The MSB-only view: the LSB plane reads as zero (floor of the level to a multiple of
    /// 2^lsb_bits), left-aligned in the 12-bit word.
    pub fn msb_words(&self) -> Vec<i16> {
        let s = self.format.word_shift();
        let mask = !((1i16 << self.format.lsb_bits) - 1);
        self.levels.iter().map(|&q| (q & mask) << s).collect()
    }

    /// The MSB plane: the top `msb_bits` of each level, as signed values (arithmetic shift).
    pub fn msb_plane(&self) -> Vec<i16> {
        self.levels
            .iter()
            .map(|&q| q >> self.format.lsb_bits)
            .collect()
    }

    /// The LSB plane: the low `lsb_bits` of each level, unsigned.
    pub fn lsb_plane(&self) -> Vec<u8> {
        let mask = (1i16 << self.format.lsb_bits) - 1;
        self.levels.iter().map(|&q| (q & mask) as u8).collect()
    }
}

/// Rebuilds a level from its planes: (msb << lsb_bits) | lsb.
pub fn merge_planes(msb: i16, lsb: u8, format: QuantFormat) -> i16 {
    (msb << format.lsb_bits) | lsb as i16
}

/// Packs the low `bits` of each value into a contiguous little-endian bit stream: element i
/// occupies bits [i*bits, (i+1)*bits) of the region, byte 0 bit 0 first (SPEC.md section 2).
pub fn pack_plane(values: &[i16], bits: u32) -> Vec<u8> {
    let mut out = vec![0u8; (values.len() * bits as usize).div_ceil(8)];
    let mask = (1u32 << bits) - 1;
    for (i, &v) in values.iter().enumerate() {
        let field = (v as u16 as u32) & mask;
        for b in 0..bits {
            if field >> b & 1 == 1 {
                let pos = i * bits as usize + b as usize;
                out[pos / 8] |= 1 << (pos % 8);
            }
        }
    }
    out
}

/// Reads `count` fields of `bits` from a packed plane; `signed` sign-extends each field.
pub fn unpack_plane(bytes: &[u8], bits: u32, count: usize, signed: bool) -> Option<Vec<i16>> {
    if bytes.len() < (count * bits as usize).div_ceil(8) {
        return None;
    }
    Some(
        (0..count)
            .map(|i| {
                let mut field = 0u32;
                for b in 0..bits {
                    let pos = i * bits as usize + b as usize;
                    field |= ((bytes[pos / 8] >> (pos % 8)) as u32 & 1) << b;
                }
                if signed && field >> (bits - 1) & 1 == 1 {
                    (field as i32 - (1i32 << bits)) as i16
                } else {
                    field as i16
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn formats() -> impl Strategy<Value = QuantFormat> {
        prop_oneof![
            (prop::sample::select(vec![4u32, 6, 8]), Just(4u32)).prop_map(|(m, l)| QuantFormat {
                msb_bits: m,
                lsb_bits: l
            }),
            prop::sample::select(vec![4u32, 6, 8, 10, 12]).prop_map(QuantFormat::single),
        ]
    }

    proptest! {
        #[test]
        fn dequantize_error_is_within_half_a_level(
            x in prop::collection::vec(-100.0f32..100.0, 1..200),
            f in formats(),
        ) {
            let q = quantize(&x, f, "x").unwrap();
            for (&v, &l) in x.iter().zip(&q.levels) {
                prop_assert!(((l as f64) * q.scale - v as f64).abs() <= 0.5 * q.scale * (1.0 + 1e-9));
                prop_assert!((l as i32).abs() <= f.max_level());
            }
            // The word view carries the same real value.
            for (&w, &l) in q.merged_words().iter().zip(&q.levels) {
                prop_assert_eq!(w as f64 * q.word_scale(), l as f64 * q.scale);
            }
        }

        #[test]
        fn msb_view_drops_exactly_the_lsb_plane(
            x in prop::collection::vec(-10.0f32..10.0, 1..100),
            m in prop::sample::select(vec![4u32, 6, 8]),
        ) {
            let f = QuantFormat { msb_bits: m, lsb_bits: 4 };
            let q = quantize(&x, f, "x").unwrap();
            let (msb, lsb) = (q.msb_plane(), q.lsb_plane());
            for i in 0..x.len() {
                prop_assert_eq!(merge_planes(msb[i], lsb[i], f), q.levels[i]);
                let err = q.levels[i] as i32 - ((q.msb_words()[i] >> f.word_shift()) as i32);
                prop_assert!((0..16).contains(&err));
                prop_assert!(msb[i] >= -(1 << (m - 1)) && msb[i] < 1 << (m - 1));
            }
            let pm = pack_plane(&msb, m);
            let pl = pack_plane(&lsb.iter().map(|&v| v as i16).collect::<Vec<_>>(), 4);
            prop_assert_eq!(pm.len(), (x.len() * m as usize).div_ceil(8));
            prop_assert_eq!(unpack_plane(&pm, m, x.len(), true).unwrap(), msb);
            let back: Vec<u8> = unpack_plane(&pl, 4, x.len(), false).unwrap().iter().map(|&v| v as u8).collect();
            prop_assert_eq!(back, lsb);
        }
    }

    #[test]
    fn eight_plus_four_merged_equals_twelve_bit_static() {
        let x: Vec<f32> = (0..97)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.173)
            .collect();
        let p = quantize(
            &x,
            QuantFormat {
                msb_bits: 8,
                lsb_bits: 4,
            },
            "x",
        )
        .unwrap();
        let s = quantize(&x, QuantFormat::single(12), "x").unwrap();
        assert_eq!(p.merged_words(), s.merged_words());
        assert_eq!(p.word_scale(), s.word_scale());
    }

    proptest! {
        #[test]
        fn fast_rounding_equals_f64_round(v in -3000.0f64..3000.0, k in -5i64..5) {
            prop_assert_eq!(round_half_away(v), v.round() as i64);
            let half = k as f64 + 0.5;
            prop_assert_eq!(round_half_away(half), half.round() as i64);
        }
    }

    #[test]
    fn non_finite_input_is_a_typed_error() {
        let e = quantize(&[1.0, f32::NAN], QuantFormat::single(12), "layer 0 q").unwrap_err();
        assert!(e.to_string().contains("layer 0 q: element 1"));
    }
}
