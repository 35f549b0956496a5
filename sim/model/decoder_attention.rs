//! The attention step of the decoders, behind a trait so that the bit-exact reference can
//! replace causal softmax attention in the loop (and prune the KV cache as the hardware does).

use ndarray::{Array3, ArrayView3, Axis, s};

use super::attention::AttentionOutput;
use super::error::ModelError;

/// One layer's causal attention for the rows being computed.
///
/// `q` is [heads, rows, head_dim] for the tokens at `positions` (strictly increasing);
/// `k` and `v` are the layer's KV cache, [kv_heads, seq, head_dim], row = position, holding
/// every position up to the newest query. A query at position p may read keys 0..=p. Query
/// head h reads K/V head h / (heads / kv_heads) (grouped-query attention). The
/// 1/sqrt(head_dim) scale is the kernel's business, as in [`super::AttentionKernel`].
///
/// One kernel value runs one sequence: the decoder calls it for layer 0..L of the prompt,
/// then for layer 0..L of each generated token, so it may carry state (the KV-cache
/// pruning) from call to call. `keep` says which query rows live on into the next layer (a
/// pruned prompt row is never computed again; its K/V rows are then never read).
pub trait DecoderKernel {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        positions: &[usize],
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError>;

    /// Over the generation steps run so far: (K/V rows the last layer kept, tokens in the
    /// sequence), summed; equal for a kernel that never prunes.
    fn kv_kept(&self) -> Option<(u64, u64)> {
        None
    }
}

impl<T: DecoderKernel + ?Sized> DecoderKernel for Box<T> {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        positions: &[usize],
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        (**self).attend(layer, q, positions, k, v)
    }

    fn kv_kept(&self) -> Option<(u64, u64)> {
        (**self).kv_kept()
    }
}

/// Plain causal softmax attention over the whole cache; prunes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenseCausal;

impl DecoderKernel for DenseCausal {
    fn attend(
        &mut self,
        _layer: usize,
        q: ArrayView3<f32>,
        positions: &[usize],
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        Ok(AttentionOutput {
            context: causal_attention(q, positions, k, v),
            keep: (0..positions.len()).collect(),
        })
    }
}

/// softmax(q k^T / sqrt(d), keys 0..=position) v per query head.
pub fn causal_attention(
    q: ArrayView3<f32>,
    positions: &[usize],
    k: ArrayView3<f32>,
    v: ArrayView3<f32>,
) -> Array3<f32> {
    let (heads, rows, d) = q.dim();
    let group = heads / k.shape()[0];
    let seen = positions.last().map_or(0, |&p| p + 1);
    let scale = 1.0 / (d as f32).sqrt();
    let mut context = Array3::zeros((heads, rows, v.shape()[2]));
    for h in 0..heads {
        let kv = h / group;
        let keys = k.slice(s![kv, ..seen, ..]);
        let values = v.slice(s![kv, ..seen, ..]);
        let mut scores = q.index_axis(Axis(0), h).dot(&keys.t());
        for (mut row, &p) in scores.rows_mut().into_iter().zip(positions) {
            let visible = p + 1;
            let max = row
                .slice(s![..visible])
                .fold(f32::NEG_INFINITY, |m, &x| m.max(x * scale));
            let mut sum = 0.0f32;
            for (j, x) in row.iter_mut().enumerate() {
                *x = if j < visible {
                    (*x * scale - max).exp()
                } else {
                    0.0
                };
                sum += *x;
            }
            row.mapv_inplace(|x| x / sum);
        }
        context
            .index_axis_mut(Axis(0), h)
            .assign(&scores.dot(&values));
    }
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Causal GQA softmax attention in f64 with explicit loops, as an independent check.
    fn reference(q: &Array3<f32>, pos: &[usize], k: &Array3<f32>, v: &Array3<f32>) -> Array3<f64> {
        let (heads, rows, d) = q.dim();
        let group = heads / k.dim().0;
        let mut out = Array3::zeros((heads, rows, d));
        for h in 0..heads {
            for (i, &p) in pos.iter().enumerate() {
                let s: Vec<f64> = (0..=p)
                    .map(|j| {
                        (0..d)
                            .map(|x| q[[h, i, x]] as f64 * k[[h / group, j, x]] as f64)
                            .sum::<f64>()
                            / (d as f64).sqrt()
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
                for x in 0..d {
                    out[[h, i, x]] = (0..=p)
                        .map(|j| (s[j] - m).exp() / z * v[[h / group, j, x]] as f64)
                        .sum();
                }
            }
        }
        out
    }

    #[test]
    fn causal_gqa_matches_f64_loops() {
        let f = |a: usize, b: usize, c: usize, m: f32| ((a * 5 + b * 11 + c * 3) % 13) as f32 * m;
        let q = Array3::from_shape_fn((4, 3, 4), |(a, b, c)| f(a, b, c, 0.3) - 1.5);
        let k = Array3::from_shape_fn((2, 6, 4), |(a, b, c)| f(b, c, a, 0.2) - 1.0);
        let v = Array3::from_shape_fn((2, 6, 4), |(a, b, c)| f(c, a, b, 0.5));
        let pos = [1, 3, 5];
        let got = DenseCausal
            .attend(0, q.view(), &pos, k.view(), v.view())
            .unwrap();
        let want = reference(&q, &pos, &k, &v);
        for (g, w) in got.context.iter().zip(want.iter()) {
            assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
        }
    }

    #[test]
    fn a_first_token_sees_only_itself() {
        let q = Array3::from_elem((1, 1, 2), 1.0);
        let k = Array3::from_shape_fn((1, 3, 2), |(_, j, _)| j as f32);
        let v = Array3::from_shape_fn((1, 3, 2), |(_, j, c)| (10 * j + c) as f32);
        let out = causal_attention(q.view(), &[0], k.view(), v.view());
        assert_eq!(out.as_slice().unwrap(), &[0.0, 1.0]);
    }
}
