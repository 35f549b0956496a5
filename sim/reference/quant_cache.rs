//! A cache of K/V quantization across generation iterations. The quantization of a head's K
//! or V depends only on the alive rows and their largest magnitude (SPEC.md section 2); with a
//! KV cache the rows of old tokens never change, so their levels can be reused for as long as
//! that maximum stays the same. Results are bit-identical to quantizing afresh (tested by
//! comparing `run_workload`, which uses it, with the uncached per-layer API).

use std::sync::Mutex;

use super::error::ReferenceError;
use super::quant::{QuantFormat, Quantized, quantize_into, scale_pair};

#[derive(Debug, Default)]
struct Entry {
    /// Largest |x| of each token's row, once seen (NaN = not seen).
    row_max: Vec<f32>,
    /// The maximum the stored levels were computed with.
    max_abs: Option<f32>,
    /// Levels by token (`head_dim` each) and whether they are valid for `max_abs`.
    levels: Vec<i16>,
    valid: Vec<bool>,
}

/// One entry per (layer, head, tensor) of a workload; each behind its own lock so heads can
/// be quantized in parallel.
#[derive(Debug)]
pub struct QuantCache {
    heads: usize,
    tokens: usize,
    head_dim: usize,
    entries: Vec<Mutex<Entry>>,
}

/// Which tensor of a head.
#[derive(Debug, Clone, Copy)]
pub enum Tensor {
    K = 0,
    V = 1,
}

impl QuantCache {
    pub fn new(layers: usize, heads: usize, tokens: usize, head_dim: usize) -> Self {
        QuantCache {
            heads,
            tokens,
            head_dim,
            entries: (0..layers * heads * 2)
                .map(|_| Mutex::new(Entry::default()))
                .collect(),
        }
    }

    /// Quantizes `rows` (the rows of `tokens`, in order) exactly as `quantize_rows` would.
    #[allow(clippy::too_many_arguments)]
    pub fn quantize(
        &self,
        layer: usize,
        head: usize,
        tensor: Tensor,
        tokens: &[u32],
        rows: &[&[f32]],
        format: QuantFormat,
        what: &str,
    ) -> Result<Quantized, ReferenceError> {
        let d = self.head_dim;
        let idx = (layer * self.heads + head) * 2 + tensor as usize;
        let mut e = self.entries[idx].lock().unwrap_or_else(|p| p.into_inner());
        if e.row_max.len() < self.tokens {
            e.row_max = vec![f32::NAN; self.tokens];
            e.levels = vec![0; self.tokens * d];
            e.valid = vec![false; self.tokens];
        }
        let mut max_abs = 0.0f32;
        for (r, (&t, row)) in tokens.iter().zip(rows).enumerate() {
            let t = t as usize;
            if t >= self.tokens || row.len() != d {
                return Err(ReferenceError::Input {
                    reason: format!(
                        "{what}: token {t} or row width {} outside the cache",
                        row.len()
                    ),
                });
            }
            if e.row_max[t].is_nan() {
                let mut m = 0.0f32;
                for (i, &v) in row.iter().enumerate() {
                    if !v.is_finite() {
                        return Err(ReferenceError::NonFinite {
                            what: what.to_string(),
                            index: r * d + i,
                            value: v,
                        });
                    }
                    m = m.max(v.abs());
                }
                e.row_max[t] = m;
            }
            max_abs = max_abs.max(e.row_max[t]);
        }
        if e.max_abs != Some(max_abs) {
            e.max_abs = Some(max_abs);
            e.valid.iter_mut().for_each(|v| *v = false);
        }
        let (scale, inv) = scale_pair(max_abs, format);
        let mut levels = Vec::with_capacity(tokens.len() * d);
        let mut tmp = Vec::with_capacity(d);
        for (&t, row) in tokens.iter().zip(rows) {
            let t = t as usize;
            if !e.valid[t] {
                tmp.clear();
                quantize_into(row, inv, format, &mut tmp);
                e.levels[t * d..(t + 1) * d].copy_from_slice(&tmp);
                e.valid[t] = true;
            }
            levels.extend_from_slice(&e.levels[t * d..(t + 1) * d]);
        }
        Ok(Quantized {
            format,
            scale,
            levels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::quant::quantize_rows;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cached_equals_fresh_over_shrinking_and_growing_sets(
            data in prop::collection::vec(-50.0f32..50.0, 40 * 4),
            steps in prop::collection::vec(prop::collection::vec(any::<bool>(), 40), 1..8),
        ) {
            let d = 4;
            let f = QuantFormat { msb_bits: 6, lsb_bits: 4 };
            let cache = QuantCache::new(1, 1, 40, d);
            let mut alive: Vec<u32> = (0..20).collect();
            for (i, keep) in steps.iter().enumerate() {
                // Prune some tokens, then add one new token, as generation does.
                alive.retain(|&t| keep[t as usize] || t % 3 == 0);
                alive.push(20 + i as u32);
                let rows: Vec<&[f32]> = alive.iter().map(|&t| &data[t as usize * d..(t as usize + 1) * d]).collect();
                let got = cache.quantize(0, 0, Tensor::V, &alive, &rows, f, "v").unwrap();
                let want = quantize_rows(&rows, f, "v").unwrap();
                prop_assert_eq!(got, want);
            }
        }
    }
}
