//! End-to-end numerics of one layer: the attention output against f64 attention within the
//! bound SPEC.md derives, progressive quantization behaviour, and 8+4 == 12-bit static.

mod reference_common;

use ndarray::{Array3, Axis};
use proptest::prelude::*;
use reference_common::small_generation;
use spatten::config::WorkloadConfig;
use spatten::config::workload::{QuantMode, StageKind};
use spatten::reference::quant::{QuantFormat, quantize};
use spatten::reference::{LayerResult, PruningState, attend_layer, kv_format};

fn summarization(
    heads: u32,
    d: u32,
    tokens: u32,
    causal: bool,
    mode: QuantMode,
    msb: u32,
) -> WorkloadConfig {
    let mut w = small_generation(1, heads, d, tokens, 0);
    w.stage.kind = StageKind::Summarization;
    w.model.causal = causal;
    w.token_pruning.average_ratio = 0.0;
    w.token_pruning.ramp = 0.0;
    w.head_pruning.average_ratio = 0.0;
    w.head_pruning.ramp = 0.0;
    w.quant.mode = mode;
    w.quant.msb_bits = msb;
    w.quant.lsb_bits = 4;
    w
}

fn layer(w: &WorkloadConfig, q: &Array3<f32>, k: &Array3<f32>, v: &Array3<f32>) -> LayerResult {
    let mut state = PruningState::new(w);
    attend_layer(q.view(), k.view(), v.view(), 0, &mut state, w).unwrap()
}

/// Per-element bound of SPEC.md section 4 on the probabilities.
const P_BOUND: f64 = 0.5 / 4095.0 + 3e-5;

fn max_abs(a: &[f32]) -> f64 {
    a.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn attention_output_is_within_the_stated_bound_of_f64(
        seed in any::<u64>(),
        d in prop::sample::select(vec![8u32, 16, 64]),
        n in 2u32..40,
        causal in any::<bool>(),
        amplitude in 0.1f32..4.0,
        msb in prop::sample::select(vec![8u32, 10, 12]),
    ) {
        let w = summarization(2, d, n, causal, QuantMode::Static, msb);
        let mut s = seed;
        let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amplitude };
        let shape = (2, n as usize, d as usize);
        let q = Array3::from_shape_fn(shape, |_| next());
        let k = Array3::from_shape_fn(shape, |_| next());
        let v = Array3::from_shape_fn(shape, |_| next());
        let r = layer(&w, &q, &k, &v);
        let fmt = kv_format(&w);
        for h in 0..2 {
            let (qh, kh, vh) = (q.index_axis(Axis(0), h), k.index_axis(Axis(0), h), v.index_axis(Axis(0), h));
            let qs = qh.iter().copied().collect::<Vec<f32>>();
            let ks = kh.iter().copied().collect::<Vec<f32>>();
            let vs = vh.iter().copied().collect::<Vec<f32>>();
            let dq = quantize(&qs, QuantFormat::single(12), "q").unwrap().scale / 2.0;
            let dk = quantize(&ks, fmt, "k").unwrap().scale / 2.0;
            let vq = quantize(&vs, fmt, "v").unwrap();
            let dv = vq.scale / 2.0;
            let vmax = max_abs(&vs);
            for i in 0..n as usize {
                let visible = if causal { i + 1 } else { n as usize };
                let sc: Vec<f64> = (0..visible).map(|j| (0..d as usize).map(|e| qh[[i, e]] as f64 * kh[[j, e]] as f64).sum::<f64>() / (d as f64).sqrt()).collect();
                let eps = (0..visible).map(|j| (0..d as usize).map(|e| (qh[[i, e]] as f64).abs() * dk + (kh[[j, e]] as f64).abs() * dq + dq * dk).sum::<f64>() / (d as f64).sqrt()).fold(0.0, f64::max);
                let m = sc.iter().copied().fold(f64::MIN, f64::max);
                let ex: Vec<f64> = sc.iter().map(|x| (x - m).exp()).collect();
                let sum: f64 = ex.iter().sum();
                let nn = visible as f64;
                let bound = vmax * ((2.0 * eps).exp() - 1.0) + vmax * nn * P_BOUND + dv * (1.0 + nn * P_BOUND) + vq.word_scale() / 2.0 + 1e-6;
                for e in 0..d as usize {
                    let want: f64 = (0..visible).map(|j| ex[j] / sum * vh[[j, e]] as f64).sum();
                    let got = r.output[[h, i, e]] as f64;
                    prop_assert!((got - want).abs() <= bound, "h{h} i{i} e{e}: {got} vs {want}, bound {bound}");
                }
            }
        }
    }
}

/// Two query rows: row 0 is zero (every score equal: flat), row 1 points at key 5 (peaked).
fn flat_and_peaked(d: usize, n: usize) -> (Array3<f32>, Array3<f32>, Array3<f32>) {
    let mut q = Array3::<f32>::zeros((1, n, d));
    let mut k = Array3::<f32>::from_shape_fn((1, n, d), |(_, j, e)| {
        (((j * 7 + e * 3) % 11) as f32 - 5.0) * 0.01
    });
    for e in 0..d {
        k[[0, 5, e]] = 1.0;
        q[[0, 1, e]] = 3.0;
    }
    // Every other row is peaked on key 5 too.
    for i in 2..n {
        for e in 0..d {
            q[[0, i, e]] = 3.0;
        }
    }
    let v = Array3::from_shape_fn((1, n, d), |(_, j, e)| ((j + e) % 5) as f32 - 2.0);
    (q, k, v)
}

#[test]
fn flat_rows_refetch_and_peaked_rows_do_not() {
    let w = summarization(1, 16, 32, false, QuantMode::Progressive, 8);
    let (q, k, v) = flat_and_peaked(16, 32);
    let r = layer(&w, &q, &k, &v);
    let c = &r.head_calls[0];
    assert_eq!(c.requant_rows, 1, "only the zero query row is flat");
    assert!(c.lsb_refetch);
    // Without the flat row, nothing is refetched.
    let mut q2 = q.clone();
    for e in 0..16 {
        q2[[0, 0, e]] = 3.0;
    }
    let r2 = layer(&w, &q2, &k, &v);
    assert_eq!(r2.head_calls[0].requant_rows, 0);
    assert!(!r2.head_calls[0].lsb_refetch);
    // Static mode never refetches, even with the flat row.
    let ws = summarization(1, 16, 32, false, QuantMode::Static, 8);
    let rs = layer(&ws, &q, &k, &v);
    assert!(!rs.head_calls[0].lsb_refetch && rs.head_calls[0].requant_rows == 0);
}

#[test]
fn progressive_eight_plus_four_with_lsbs_equals_twelve_bit_static() {
    let n = 48;
    let d = 16;
    let mut s = 99u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * 0.5
    };
    let q = Array3::from_shape_fn((2, n, d), |_| next());
    let k = Array3::from_shape_fn((2, n, d), |_| next());
    let v = Array3::from_shape_fn((2, n, d), |_| next());
    // Threshold 1.0: every row is "flat", so every row is recomputed with merged values.
    // Non-causal: a causal first row has a single key, probability 1.0, never below 1.0.
    let mut wp = summarization(2, d as u32, n as u32, false, QuantMode::Progressive, 8);
    wp.quant.requant_threshold = 1.0;
    let ws = summarization(2, d as u32, n as u32, false, QuantMode::Static, 12);
    let rp = layer(&wp, &q, &k, &v);
    let rs = layer(&ws, &q, &k, &v);
    assert!(rp.head_calls.iter().all(|c| c.requant_rows == n as u32));
    assert_eq!(rp.output, rs.output);
    // The same holds for every progressive format against the static format of its total.
    for msb in [4u32, 6] {
        let mut wp = summarization(2, d as u32, n as u32, false, QuantMode::Progressive, msb);
        wp.quant.requant_threshold = 1.0;
        let ws = summarization(2, d as u32, n as u32, false, QuantMode::Static, msb + 4);
        assert_eq!(
            layer(&wp, &q, &k, &v).output,
            layer(&ws, &q, &k, &v).output,
            "{msb}+4"
        );
    }
    // Threshold 0: no row refetches, and the MSB-only result differs from the 12-bit one.
    let mut wd = summarization(2, d as u32, n as u32, false, QuantMode::Progressive, 8);
    wd.quant.requant_threshold = 0.0;
    let rd = layer(&wd, &q, &k, &v);
    assert!(
        rd.head_calls
            .iter()
            .all(|c| c.requant_rows == 0 && !c.lsb_refetch)
    );
    assert_ne!(rd.output, rs.output);
}
