//! The workload runner and the per-layer API: trace invariants, shape errors, determinism at
//! any thread count, and agreement between the two entry points.

mod reference_common;

use ndarray::{Array3, Axis};
use reference_common::{random_values, small_generation};
use spatten::config::workload::{QuantMode, StageKind};
use spatten::reference::prune::{keep_count, local_v_keep};
use spatten::reference::{PruningState, ReferenceError, attend_layer, run_workload};
use spatten::trace::{AttentionTrace, TopkPurpose};

fn run_with_threads(threads: usize, f: impl FnOnce() -> AttentionTrace + Send) -> AttentionTrace {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn trace_is_identical_with_one_and_four_threads() {
    let w = small_generation(3, 6, 16, 40, 4);
    let v = random_values(&w, 7, 2.0);
    let a = run_with_threads(1, || run_workload(&v, &w).unwrap());
    let b = run_with_threads(4, || run_workload(&v, &w).unwrap());
    assert_eq!(a, b);
    assert_eq!(a, run_workload(&v, &w).unwrap());
}

#[test]
fn trace_follows_the_schedules() {
    let mut w = small_generation(4, 8, 16, 60, 5);
    w.token_pruning.average_ratio = 0.4;
    w.token_pruning.ramp = 0.2;
    w.head_pruning.average_ratio = 0.25;
    w.head_pruning.ramp = 0.0;
    w.local_v.keep_ratio = 0.3;
    let v = random_values(&w, 3, 1.5);
    let t = run_workload(&v, &w).unwrap();
    let layers = w.model.layers;
    assert_eq!(
        t.layers.len() as u32,
        (w.stage.generated_tokens + 1) * layers
    );
    let mut alive_tokens: Vec<u32> = (0..w.stage.prompt_tokens).collect();
    let mut alive_heads: Vec<u32> = (0..w.model.heads).collect();
    let mut calls = t.head_calls.iter();
    for rec in &t.layers {
        if rec.layer == 0 && rec.iteration > 0 {
            alive_tokens.push(w.stage.prompt_tokens + rec.iteration - 1);
        }
        let seq = w.stage.prompt_tokens + rec.iteration;
        // One call per alive head, in order, over the alive (visible) keys.
        for &h in &alive_heads {
            let c = calls.next().unwrap();
            assert_eq!(
                (c.iteration, c.layer, c.head),
                (rec.iteration, rec.layer, h)
            );
            assert_eq!(c.keys, alive_tokens);
            assert!(c.values.iter().all(|x| c.keys.binary_search(x).is_ok()));
            if rec.iteration == 0 {
                assert_eq!(c.queries as usize, alive_tokens.len());
                assert_eq!(c.values, c.keys);
                assert!(c.value_topk.is_none());
            } else {
                assert_eq!(c.queries, 1);
                let want = local_v_keep(c.keys.len() as u32, 0.3) as usize;
                assert_eq!(c.values.len(), want);
                let tk = &t.topk_calls[c.value_topk.unwrap() as usize];
                assert_eq!(tk.purpose, TopkPurpose::LocalValue);
                assert_eq!((tk.n as usize, tk.k as usize), (c.keys.len(), want));
            }
            if rec.iteration == 0 {
                // The prompt reads msb + lsb at once, no requant decision (SPEC section 2).
                assert_eq!((c.key_msb_bits, c.lsb_bits, c.query_bits), (12, 0, 12));
                assert!(!c.lsb_refetch && c.requant_rows == 0);
            } else {
                assert_eq!((c.key_msb_bits, c.lsb_bits, c.query_bits), (8, 4, 12));
            }
            assert_eq!(c.lsb_refetch, c.requant_rows > 0);
        }
        // Token pruning against the sequence length; the newest token stays in generation.
        let r = w.token_pruning.ratio_after_layer(rec.layer, layers);
        let keep = keep_count(seq, r).max(1) as usize;
        let want = keep.min(alive_tokens.len());
        assert_eq!(rec.tokens_kept.len(), want, "{rec:?}");
        assert!(
            rec.tokens_kept
                .iter()
                .all(|x| alive_tokens.binary_search(x).is_ok())
        );
        if rec.iteration > 0 {
            assert_eq!(*rec.tokens_kept.last().unwrap(), seq - 1);
        }
        match rec.token_topk {
            Some(i) => {
                let tk = &t.topk_calls[i as usize];
                assert_eq!(tk.purpose, TopkPurpose::Token);
                assert_eq!(tk.rounds[0], tk.n);
                assert!(want < alive_tokens.len());
            }
            None => assert_eq!(want, alive_tokens.len()),
        }
        let rh = w.head_pruning.ratio_after_layer(rec.layer, layers);
        let keep_h = (keep_count(w.model.heads, rh).max(1) as usize).min(alive_heads.len());
        assert_eq!(rec.heads_kept.len(), keep_h);
        assert_eq!(rec.head_topk.is_some(), keep_h < alive_heads.len());
        alive_tokens = rec.tokens_kept.clone();
        alive_heads = rec.heads_kept.clone();
    }
    assert!(calls.next().is_none());
    // Pruning did happen: fewer heads and tokens at the end than at the start.
    assert!(alive_heads.len() < w.model.heads as usize);
    assert!(alive_tokens.len() < w.stage.prompt_tokens as usize);
}

#[test]
fn per_layer_api_gives_the_same_trace_as_the_runner() {
    let mut w = small_generation(3, 4, 8, 30, 3);
    w.local_v.keep_ratio = 0.5;
    let v = random_values(&w, 11, 1.0);
    let want = run_workload(&v, &w).unwrap();
    let mut got = AttentionTrace {
        head_calls: vec![],
        layers: vec![],
        topk_calls: vec![],
        ..want.clone()
    };
    let mut state = PruningState::new(&w);
    for it in 0..=w.stage.generated_tokens {
        if it > 0 {
            state.begin_generation_step();
        }
        for (l, lv) in v.layers.iter().enumerate() {
            let qt: Vec<usize> = state.query_tokens().iter().map(|&t| t as usize).collect();
            let kt: Vec<usize> = state.alive_tokens.iter().map(|&t| t as usize).collect();
            let q = lv.q.select(Axis(1), &qt);
            let k = lv.k.select(Axis(1), &kt);
            let vv = lv.v.select(Axis(1), &kt);
            let alive_heads = state.alive_heads.clone();
            let r = attend_layer(q.view(), k.view(), vv.view(), l as u32, &mut state, &w).unwrap();
            assert_eq!(r.output.shape(), &[4, qt.len(), 8]);
            for h in 0..4u32 {
                let zero = r
                    .output
                    .index_axis(Axis(0), h as usize)
                    .iter()
                    .all(|&x| x == 0.0);
                if !alive_heads.contains(&h) {
                    assert!(zero, "pruned head {h} must output zeros");
                }
            }
            r.append_to(&mut got);
        }
    }
    assert_eq!(got, want);
}

#[test]
fn shape_mismatch_is_a_typed_error() {
    let w = small_generation(2, 2, 8, 10, 2);
    let mut v = random_values(&w, 1, 1.0);
    v.layers[1].k = Array3::zeros((2, 11, 8));
    match run_workload(&v, &w) {
        Err(ReferenceError::Shape { what, got, want }) => {
            assert_eq!(what, "layer 1 k");
            assert_eq!((got, want), (vec![2, 11, 8], vec![2, 12, 8]));
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    v.layers.pop();
    assert!(matches!(
        run_workload(&v, &w),
        Err(ReferenceError::LayerCount {
            count: 1,
            want: 2,
            ..
        })
    ));
    let mut v = random_values(&w, 1, 1.0);
    v.layers[0].q[[1, 3, 2]] = f32::INFINITY;
    let e = run_workload(&v, &w).unwrap_err();
    assert!(e.to_string().contains("layer 0 head 1 q"), "{e}");

    let mut v = random_values(&w, 1, 1.0);
    v.meta.prompt_tokens = 11;
    let e = run_workload(&v, &w).unwrap_err();
    assert!(
        e.to_string()
            .contains("meta.prompt_tokens is 11, the workload says 10"),
        "{e}"
    );

    let mut state = PruningState::new(&w);
    let q = Array3::<f32>::zeros((2, 9, 8));
    let k = Array3::<f32>::zeros((2, 10, 8));
    let e = attend_layer(q.view(), k.view(), k.view(), 0, &mut state, &w).unwrap_err();
    assert!(matches!(e, ReferenceError::Input { .. }), "{e}");
    let q = Array3::<f32>::zeros((2, 12, 8));
    let e = attend_layer(q.view(), k.view(), k.view(), 0, &mut state, &w).unwrap_err();
    assert!(
        e.to_string().contains("q has 12 rows; the state has 10"),
        "{e}"
    );
    let q = Array3::<f32>::zeros((2, 10, 8));
    state.alive_tokens = vec![3, 2];
    let e = attend_layer(q.view(), k.view(), k.view(), 0, &mut state, &w).unwrap_err();
    assert!(e.to_string().contains("ascending"), "{e}");
}

#[test]
fn non_standard_layout_views_give_the_same_result() {
    let w = small_generation(1, 3, 8, 12, 0);
    let v = random_values(&w, 2, 1.0);
    let lv = &v.layers[0];
    let want = {
        let mut s = PruningState::new(&w);
        attend_layer(lv.q.view(), lv.k.view(), lv.v.view(), 0, &mut s, &w).unwrap()
    };
    // The same values stored [D, tokens, heads] and viewed through permuted axes.
    let t = |a: &Array3<f32>| {
        a.view()
            .permuted_axes([2, 1, 0])
            .as_standard_layout()
            .into_owned()
    };
    let (q, k, vv) = (t(&lv.q), t(&lv.k), t(&lv.v));
    let (q, k, vv) = (
        q.view().permuted_axes([2, 1, 0]),
        k.view().permuted_axes([2, 1, 0]),
        vv.view().permuted_axes([2, 1, 0]),
    );
    assert!(!q.is_standard_layout());
    let mut s = PruningState::new(&w);
    let got = attend_layer(q, k, vv, 0, &mut s, &w).unwrap();
    assert_eq!(got, want);
}

#[test]
fn summarization_without_pruning_keeps_everything() {
    let mut w = small_generation(2, 3, 16, 20, 0);
    w.stage.kind = StageKind::Summarization;
    w.model.causal = false;
    w.token_pruning.average_ratio = 0.0;
    w.token_pruning.ramp = 0.0;
    w.head_pruning.average_ratio = 0.0;
    w.quant.mode = QuantMode::Static;
    w.quant.msb_bits = 12;
    let v = random_values(&w, 5, 1.0);
    let t = run_workload(&v, &w).unwrap();
    assert_eq!(t.head_calls.len(), 6);
    assert!(t.topk_calls.is_empty());
    assert!(
        t.head_calls
            .iter()
            .all(|c| c.keys.len() == 20 && !c.lsb_refetch && c.lsb_bits == 0)
    );
    assert!(t.head_calls.iter().all(|c| !c.accumulate_importance));
}
