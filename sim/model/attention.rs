//! The attention step of the encoder, behind a trait so that a pruning / quantizing reference
//! can replace plain softmax attention inside the forward pass (closed-loop accuracy).

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, s};

use super::error::ModelError;

/// What one layer's attention hands back to the encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionOutput {
    /// Attention context, [heads, alive_tokens, head_dim]: one row per query row it was given.
    /// A pruned head is expressed by zeroing its context.
    pub context: Array3<f32>,
    /// Rows (positions within the alive set this layer saw, strictly increasing) that survive
    /// into the next layer. Dropped rows disappear from every later layer and from the final
    /// mean pooling.
    pub keep: Vec<usize>,
}

/// One layer's attention over the tokens still alive. `q`, `k` and `v` are
/// [heads, alive_tokens, head_dim] after the projection and bias, before the 1/sqrt(head_dim)
/// scale, which is the kernel's business (as in SpAtten, which scales inside the datapath).
///
/// One kernel value runs one sentence: the encoder calls `attend` once per layer in order, so
/// a kernel may carry state (cumulative token importance) from layer to layer.
pub trait AttentionKernel {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError>;
}

impl<T: AttentionKernel + ?Sized> AttentionKernel for Box<T> {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        (**self).attend(layer, q, k, v)
    }
}

impl<T: AttentionKernel + ?Sized> AttentionKernel for &mut T {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        (**self).attend(layer, q, k, v)
    }
}

/// Plain softmax attention over every alive token; prunes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenseAttention;

impl AttentionKernel for DenseAttention {
    fn attend(
        &mut self,
        _layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        let tokens = q.shape()[1];
        Ok(AttentionOutput {
            context: dense_attention(q, k, v),
            keep: (0..tokens).collect(),
        })
    }
}

/// softmax(q k^T / sqrt(head_dim)) v per head, [heads, tokens, head_dim].
pub fn dense_attention(q: ArrayView3<f32>, k: ArrayView3<f32>, v: ArrayView3<f32>) -> Array3<f32> {
    let (heads, tq, _) = q.dim();
    let mut context = Array3::zeros((heads, tq, v.shape()[2]));
    for h in 0..heads {
        let probs = head_probs(q.index_axis(Axis(0), h), k.index_axis(Axis(0), h));
        context
            .index_axis_mut(Axis(0), h)
            .assign(&probs.dot(&v.index_axis(Axis(0), h)));
    }
    context
}

/// The attention probabilities, [heads, query_tokens, key_tokens]; for kernels that rank tokens
/// or heads by them.
pub fn attention_probs(q: ArrayView3<f32>, k: ArrayView3<f32>) -> Array3<f32> {
    let (heads, tq, _) = q.dim();
    let mut probs = Array3::zeros((heads, tq, k.shape()[1]));
    for h in 0..heads {
        probs.slice_mut(s![h, .., ..]).assign(&head_probs(
            q.index_axis(Axis(0), h),
            k.index_axis(Axis(0), h),
        ));
    }
    probs
}

fn head_probs(q: ArrayView2<f32>, k: ArrayView2<f32>) -> Array2<f32> {
    let scale = 1.0 / (q.shape()[1] as f32).sqrt();
    let mut scores = q.dot(&k.t());
    scores.mapv_inplace(|x| x * scale);
    for mut row in scores.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let mut sum = 0.0f32;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        row.mapv_inplace(|x| x / sum);
    }
    scores
}

/// Wraps a kernel and records the Q, K and V each layer was given (owned copies).
#[derive(Debug, Clone, Default)]
pub struct CaptureKernel<K> {
    pub inner: K,
    pub layers: Vec<crate::trace::LayerValues>,
}

impl<K> CaptureKernel<K> {
    pub fn new(inner: K) -> Self {
        Self {
            inner,
            layers: Vec::new(),
        }
    }
}

impl<K: AttentionKernel> AttentionKernel for CaptureKernel<K> {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        self.layers.push(crate::trace::LayerValues {
            q: q.to_owned(),
            k: k.to_owned(),
            v: v.to_owned(),
        });
        self.inner.attend(layer, q, k, v)
    }
}

/// The decoders' kernel, recording as above: one call per layer when the whole sequence
/// runs in one pass, so Q holds every position and K and V the whole cache.
impl<K: super::DecoderKernel> super::DecoderKernel for CaptureKernel<K> {
    fn attend(
        &mut self,
        layer: usize,
        q: ArrayView3<f32>,
        positions: &[usize],
        k: ArrayView3<f32>,
        v: ArrayView3<f32>,
    ) -> Result<AttentionOutput, ModelError> {
        self.layers.push(crate::trace::LayerValues {
            q: q.to_owned(),
            k: k.to_owned(),
            v: v.to_owned(),
        });
        self.inner.attend(layer, q, positions, k, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    /// Softmax attention in f64 with explicit loops, as an independent cross-check.
    fn reference(q: &Array3<f32>, k: &Array3<f32>, v: &Array3<f32>) -> Array3<f64> {
        let (heads, t, d) = q.dim();
        let mut out = Array3::zeros((heads, t, d));
        for h in 0..heads {
            for i in 0..t {
                let scores: Vec<f64> = (0..t)
                    .map(|j| {
                        (0..d)
                            .map(|x| q[[h, i, x]] as f64 * k[[h, j, x]] as f64)
                            .sum::<f64>()
                            / (d as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let z: f64 = e.iter().sum();
                for x in 0..d {
                    out[[h, i, x]] = (0..t).map(|j| e[j] / z * v[[h, j, x]] as f64).sum();
                }
            }
        }
        out
    }

    #[test]
    fn dense_matches_f64_reference() {
        let f = |a: usize, b: usize, c: usize, m: f32| ((a * 7 + b * 13 + c * 3) % 11) as f32 * m;
        let q = Array3::from_shape_fn((2, 5, 4), |(a, b, c)| f(a, b, c, 0.37) - 1.5);
        let k = Array3::from_shape_fn((2, 5, 4), |(a, b, c)| f(b, c, a, 0.21) - 1.0);
        let v = Array3::from_shape_fn((2, 5, 4), |(a, b, c)| f(c, a, b, 0.5));
        let got = DenseAttention
            .attend(0, q.view(), k.view(), v.view())
            .unwrap();
        assert_eq!(got.keep, vec![0, 1, 2, 3, 4]);
        let want = reference(&q, &k, &v);
        for (g, w) in got.context.iter().zip(want.iter()) {
            assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
        }
    }

    #[test]
    fn probabilities_sum_to_one_per_query() {
        let q = Array3::from_shape_fn((3, 4, 2), |(a, b, c)| (a + 2 * b + c) as f32 * 0.9);
        let k = Array3::from_shape_fn((3, 6, 2), |(a, b, c)| (a * b + c) as f32 * -0.4);
        let p = attention_probs(q.view(), k.view());
        assert_eq!(p.dim(), (3, 4, 6));
        for row in p.lanes(Axis(2)) {
            assert!((row.sum() - 1.0).abs() < 1e-6);
            assert!(row.iter().all(|&x| x >= 0.0));
        }
    }
}
