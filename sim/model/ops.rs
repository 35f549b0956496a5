//! Row-wise building blocks shared by the encoder and the decoders: the affine map, the two
//! normalisations and the activations. Each works on [tokens, features] in place or returns a
//! new matrix; rows never interact, so pruning rows before or after any of them is the same.

use std::f32::consts::FRAC_1_SQRT_2;

use ndarray::{Array1, Array2, ArrayView2, Zip};

use super::weights::{LayerNorm, Linear};

/// `x W^T + b` (W stored transposed, see [`Linear`]).
pub fn linear(x: ArrayView2<f32>, lin: &Linear) -> Array2<f32> {
    let mut y = x.dot(&lin.weight_t);
    y += &lin.bias;
    y
}

/// As [`linear`], with a one-row fast path (a decode step): the matrix kernel would copy
/// (pack) the whole weight matrix for a single row; summing its rows in place reads it once,
/// contiguously. (Kept apart from `linear` so the encoder's numbers do not move.)
pub fn linear_rows(x: ArrayView2<f32>, lin: &Linear) -> Array2<f32> {
    if x.nrows() != 1 {
        return linear(x, lin);
    }
    let mut y = lin.bias.clone();
    for (&xi, w) in x.row(0).iter().zip(lin.weight_t.rows()) {
        y.scaled_add(xi, &w);
    }
    y.insert_axis(ndarray::Axis(0))
}

/// LayerNorm over each row (biased variance, as torch).
pub fn layer_norm(x: &mut Array2<f32>, ln: &LayerNorm, eps: f32) {
    for mut row in x.rows_mut() {
        let n = row.len() as f32;
        let mean = row.sum() / n;
        let var = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + eps).sqrt();
        Zip::from(&mut row)
            .and(&ln.gamma)
            .and(&ln.beta)
            .for_each(|v, &g, &b| *v = (*v - mean) * inv * g + b);
    }
}

/// RMSNorm over each row (Llama): `x / sqrt(mean(x^2) + eps) * gamma`.
pub fn rms_norm(x: &mut Array2<f32>, gamma: &Array1<f32>, eps: f32) {
    for mut row in x.rows_mut() {
        let ms = row.iter().map(|&v| v * v).sum::<f32>() / row.len() as f32;
        let inv = 1.0 / (ms + eps).sqrt();
        Zip::from(&mut row)
            .and(gamma)
            .for_each(|v, &g| *v = *v * inv * g);
    }
}

/// Exact (erf) GELU, as BERT's `hidden_act = "gelu"`.
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * FRAC_1_SQRT_2))
}

/// The tanh approximation of GELU, GPT-2's `gelu_new`:
/// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
pub fn gelu_tanh(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // sqrt(2 / pi)
    0.5 * x * (1.0 + (C * (x + 0.044_715 * x * x * x)).tanh())
}

/// SiLU (swish), Llama's `hidden_act = "silu"`: `x sigmoid(x)`.
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gelu_matches_closed_form_points() {
        assert_eq!(gelu(0.0), 0.0);
        // GELU(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.841344746...
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((gelu(-1.0) + 0.158_655_25).abs() < 1e-6);
    }

    #[test]
    fn gelu_tanh_and_silu_match_closed_form_points() {
        // 0.5 (1 + tanh(sqrt(2/pi) * 1.044715)) = 0.841191990...
        assert!((gelu_tanh(1.0) - 0.841_192).abs() < 1e-6);
        assert_eq!(gelu_tanh(0.0), 0.0);
        // 1 / (1 + e^-1) = 0.731058578...
        assert!((silu(1.0) - 0.731_058_6).abs() < 1e-6);
        assert!((silu(-2.0) + 0.238_405_85).abs() < 1e-6);
    }

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance() {
        let mut x = Array2::from_shape_fn((3, 8), |(r, c)| (r * 8 + c * c) as f32 * 0.3);
        let ln = LayerNorm {
            gamma: Array1::ones(8),
            beta: Array1::zeros(8),
        };
        layer_norm(&mut x, &ln, 1e-12);
        for row in x.rows() {
            assert!(row.mean().unwrap().abs() < 1e-5);
            let var = row.mapv(|v| v * v).mean().unwrap();
            assert!((var - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn rms_norm_gives_unit_mean_square() {
        let mut x = Array2::from_shape_fn((2, 6), |(r, c)| (r + 1) as f32 * (c as f32 - 2.5));
        rms_norm(&mut x, &Array1::ones(6), 0.0);
        for row in x.rows() {
            assert!((row.mapv(|v| v * v).mean().unwrap() - 1.0).abs() < 1e-5);
        }
    }
}
