//! Attention trace files: round trip (proptest), determinism, and named errors for truncated
//! or inconsistent files.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::config::workload::StageKind;
use spatten::trace::container::{self, Container, RawTensor};
use spatten::trace::trace_file::{NONE, encode_trace};
use spatten::trace::{
    AttentionTrace, HeadCall, LayerRecord, TopkCall, TopkPurpose, TraceError, TraceHeader,
    read_trace, write_trace,
};

fn subset(rng: &mut ChaCha8Rng, from: &[u32], p: f64) -> Vec<u32> {
    from.iter().copied().filter(|_| rng.gen_bool(p)).collect()
}

fn rounds(rng: &mut ChaCha8Rng, n: u32) -> Vec<u32> {
    let mut r = Vec::new();
    if n > 0 && rng.gen_bool(0.8) {
        let mut cur = n;
        r.push(cur);
        while cur > 1 && rng.gen_bool(0.6) {
            cur = rng.gen_range(1..=cur);
            r.push(cur);
        }
    }
    r
}

fn topk(
    rng: &mut ChaCha8Rng,
    calls: &mut Vec<TopkCall>,
    purpose: TopkPurpose,
    n: u32,
    k: u32,
) -> u32 {
    let rounds = rounds(rng, n);
    calls.push(TopkCall {
        purpose,
        n,
        k,
        rounds,
        stages: Vec::new(),
    });
    calls.len() as u32 - 1
}

/// A random trace that is consistent by construction.
fn random_trace(seed: u64) -> AttentionTrace {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let layers = rng.gen_range(1..4u32);
    let heads = rng.gen_range(1..5u32);
    let prompt = rng.gen_range(1..20u32);
    let generated = if rng.gen_bool(0.5) {
        rng.gen_range(1..4u32)
    } else {
        0
    };
    let header = TraceHeader {
        workload: format!("w{seed}"),
        source: "proptest".into(),
        layers,
        heads,
        head_dim: rng.gen_range(1..129),
        stage: if generated > 0 {
            StageKind::Generation
        } else {
            StageKind::Summarization
        },
        prompt_tokens: prompt,
        generated_tokens: generated,
        // Header seeds are at most 2^63 - 1 (a reader rule).
        seed: seed >> 1,
        kv_heads: None,
        softmax_key_tile_rows: None,
        batch: None,
        value_topk_entries: None,
    };
    let (mut head_calls, mut records, mut calls) = (Vec::new(), Vec::new(), Vec::new());
    for iteration in 0..=generated {
        let all: Vec<u32> = (0..prompt + iteration).collect();
        for layer in 0..layers {
            for head in 0..heads {
                if !rng.gen_bool(0.7) {
                    continue;
                }
                let keys = subset(&mut rng, &all, 0.6);
                let values = subset(&mut rng, &keys, 0.5);
                let value_topk = rng.gen_bool(0.5).then(|| {
                    topk(
                        &mut rng,
                        &mut calls,
                        TopkPurpose::LocalValue,
                        keys.len() as u32,
                        values.len() as u32,
                    )
                });
                // Query rows are tokens of the iteration (a reader rule).
                let queries = rng.gen_range(1..=prompt + iteration);
                let lsb_bits = rng.gen_range(0..5);
                head_calls.push(HeadCall {
                    sequence: 0,
                    iteration,
                    layer,
                    head,
                    queries,
                    query_bits: rng.r#gen(),
                    keys,
                    values,
                    key_msb_bits: rng.r#gen(),
                    value_msb_bits: rng.r#gen(),
                    lsb_bits,
                    requant_rows: rng.gen_range(0..=queries),
                    lsb_refetch: lsb_bits > 0 && rng.r#gen(),
                    accumulate_importance: rng.r#gen(),
                    value_topk,
                });
            }
            if rng.gen_bool(0.8) {
                let tokens_kept = subset(&mut rng, &all, 0.7);
                let heads_kept = subset(&mut rng, &(0..heads).collect::<Vec<_>>(), 0.8);
                let k = tokens_kept.len() as u32;
                // A top-k ranks at most the trace's tokens (heads): a reader rule.
                let n = (k + rng.gen_range(0..3)).min(prompt + generated);
                let token_topk = rng
                    .gen_bool(0.5)
                    .then(|| topk(&mut rng, &mut calls, TopkPurpose::Token, n, k));
                let k = heads_kept.len() as u32;
                let head_topk = rng.gen_bool(0.3).then(|| {
                    topk(
                        &mut rng,
                        &mut calls,
                        TopkPurpose::Head,
                        (k + 1).min(heads),
                        k,
                    )
                });
                records.push(LayerRecord {
                    sequence: 0,
                    iteration,
                    layer,
                    tokens_kept,
                    heads_kept,
                    token_topk,
                    head_topk,
                });
            }
        }
    }
    AttentionTrace {
        header,
        head_calls,
        layers: records,
        topk_calls: calls,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn round_trip(seed in any::<u64>()) {
        let t = random_trace(seed);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.safetensors");
        write_trace(&p, &t).unwrap();
        prop_assert_eq!(read_trace(&p).unwrap(), t.clone());
        // Same trace, same bytes.
        let q = dir.path().join("u.safetensors");
        write_trace(&q, &t).unwrap();
        prop_assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&q).unwrap());
    }
}

/// A fixed trace with one of everything: two head calls, local V, token and head top-k.
fn small_trace() -> AttentionTrace {
    let call = |head, keys: Vec<u32>, values: Vec<u32>, value_topk| HeadCall {
        sequence: 0,
        iteration: 1,
        layer: 0,
        head,
        queries: 1,
        query_bits: 12,
        keys,
        values,
        key_msb_bits: 8,
        value_msb_bits: 8,
        lsb_bits: 4,
        requant_rows: 1,
        lsb_refetch: true,
        accumulate_importance: true,
        value_topk,
    };
    AttentionTrace {
        header: TraceHeader {
            workload: "small".into(),
            source: "hand".into(),
            layers: 2,
            heads: 2,
            head_dim: 64,
            stage: StageKind::Generation,
            prompt_tokens: 4,
            generated_tokens: 1,
            seed: 0,
            kv_heads: None,
            softmax_key_tile_rows: None,
            batch: None,
            value_topk_entries: None,
        },
        head_calls: vec![
            call(0, vec![0, 2, 4], vec![2, 4], Some(0)),
            call(1, vec![1, 4], vec![1, 4], None),
        ],
        layers: vec![LayerRecord {
            sequence: 0,
            iteration: 1,
            layer: 0,
            tokens_kept: vec![0, 4],
            heads_kept: vec![1],
            token_topk: Some(1),
            head_topk: Some(2),
        }],
        topk_calls: vec![
            TopkCall {
                purpose: TopkPurpose::LocalValue,
                n: 3,
                k: 2,
                rounds: vec![3, 1],
                stages: Vec::new(),
            },
            TopkCall {
                purpose: TopkPurpose::Token,
                n: 5,
                k: 2,
                rounds: vec![5, 2],
                stages: Vec::new(),
            },
            TopkCall {
                purpose: TopkPurpose::Head,
                n: 2,
                k: 1,
                rounds: vec![2],
                stages: Vec::new(),
            },
        ],
    }
}

fn container_of(t: &AttentionTrace) -> Container {
    encode_trace(std::path::Path::new("x"), t).unwrap()
}

/// Writes the small trace's container after `edit` and returns the reader's message.
fn corrupt(edit: impl FnOnce(&mut Container)) -> String {
    let mut c = container_of(&small_trace());
    edit(&mut c);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.safetensors");
    container::write(&p, &c).unwrap();
    let msg = read_trace(&p).unwrap_err().to_string();
    assert!(msg.contains("bad.safetensors"), "{msg}");
    msg
}

fn set_u32(c: &mut Container, name: &str, v: &[u32]) {
    c.tensors.insert(name.into(), RawTensor::u32s(v));
}

#[test]
fn small_trace_round_trips_and_none_is_the_sentinel() {
    let c = container_of(&small_trace());
    assert_eq!(
        c.u32_column(std::path::Path::new("x"), "layers.head_topk")
            .unwrap(),
        vec![2]
    );
    assert_eq!(
        c.u32_column(std::path::Path::new("x"), "head_calls.value_topk")
            .unwrap(),
        vec![0, NONE]
    );
    assert_eq!(
        c.u64_column(std::path::Path::new("x"), "head_calls.key_offsets")
            .unwrap(),
        vec![0, 3, 5]
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    write_trace(&p, &small_trace()).unwrap();
    assert_eq!(read_trace(&p).unwrap(), small_trace());
    // The streaming writer and the in-memory encoder agree byte for byte.
    assert_eq!(std::fs::read(&p).unwrap(), container::encode(&c));
}

#[test]
fn version_and_format_are_checked() {
    let m = corrupt(|c| {
        c.metadata.insert("version".into(), "99".into());
    });
    assert!(m.contains("version") && m.contains("99"), "{m}");
    let m = corrupt(|c| {
        c.metadata.insert("format".into(), "spatten-values".into());
    });
    assert!(m.contains("format"), "{m}");
    let m = corrupt(|c| {
        c.metadata.remove("header");
    });
    assert!(m.contains("header") && m.contains("missing"), "{m}");
    let m = corrupt(|c| {
        c.metadata
            .insert("header".into(), "{\"workload\": 3}".into());
    });
    assert!(m.contains("header"), "{m}");
}

#[test]
fn offsets_must_be_monotone_and_cover_the_flat_array() {
    let m = corrupt(|c| {
        c.tensors
            .insert("head_calls.key_offsets".into(), RawTensor::u64s(&[0, 4, 3]));
    });
    assert!(m.contains("head_calls.key_offsets decreases"), "{m}");
    let m = corrupt(|c| {
        c.tensors
            .insert("head_calls.key_offsets".into(), RawTensor::u64s(&[0, 3, 9]));
    });
    assert!(
        m.contains("ends at 9") && m.contains("head_calls.keys"),
        "{m}"
    );
    let m = corrupt(|c| {
        c.tensors
            .insert("topk.round_offsets".into(), RawTensor::u64s(&[1, 2, 4, 5]));
    });
    assert!(m.contains("topk.round_offsets[0]"), "{m}");
    let m = corrupt(|c| {
        c.tensors
            .insert("layers.head_offsets".into(), RawTensor::u64s(&[0]));
    });
    assert!(
        m.contains("layers.head_offsets") && m.contains("expected 2"),
        "{m}"
    );
}

#[test]
fn columns_must_agree_in_length_and_dtype() {
    let m = corrupt(|c| set_u32(c, "head_calls.head", &[0]));
    assert!(
        m.contains("head_calls.head") && m.contains("has 1 entries, expected 2"),
        "{m}"
    );
    let m = corrupt(|c| {
        c.tensors
            .insert("head_calls.lsb_bits".into(), RawTensor::u32s(&[4, 4]));
    });
    assert!(
        m.contains("head_calls.lsb_bits") && m.contains("dtype"),
        "{m}"
    );
    let m = corrupt(|c| {
        c.tensors.remove("topk.k");
    });
    assert!(m.contains("topk.k") && m.contains("missing"), "{m}");
}

#[test]
fn indices_must_be_ascending_and_in_range() {
    let m = corrupt(|c| set_u32(c, "head_calls.keys", &[0, 4, 2, 1, 4]));
    assert!(
        m.contains("head call 0") && m.contains("keys not strictly ascending"),
        "{m}"
    );
    // Iteration 1 of a 4-token prompt has 5 tokens: index 5 is out of range.
    let m = corrupt(|c| set_u32(c, "head_calls.keys", &[0, 2, 5, 1, 4]));
    assert!(m.contains("index 5 is not below 5"), "{m}");
    let m = corrupt(|c| set_u32(c, "head_calls.values", &[1, 4, 1, 4]));
    assert!(
        m.contains("head call 0") && m.contains("not a subset of keys"),
        "{m}"
    );
    let m = corrupt(|c| set_u32(c, "layers.heads_kept", &[2]));
    assert!(m.contains("heads_kept") && m.contains("not below 2"), "{m}");
}

#[test]
fn ids_and_topk_references_are_checked() {
    let m = corrupt(|c| set_u32(c, "head_calls.layer", &[0, 2]));
    assert!(m.contains("head call 1") && m.contains("layer id"), "{m}");
    let m = corrupt(|c| set_u32(c, "head_calls.head", &[1, 0]));
    assert!(m.contains("head call 1") && m.contains("order"), "{m}");
    let m = corrupt(|c| set_u32(c, "head_calls.iteration", &[1, 2]));
    assert!(m.contains("iteration 2 exceeds generated_tokens"), "{m}");
    let m = corrupt(|c| set_u32(c, "head_calls.value_topk", &[7, NONE]));
    assert!(
        m.contains("value_topk = 7") && m.contains("3 top-k calls"),
        "{m}"
    );
    let m = corrupt(|c| set_u32(c, "head_calls.value_topk", &[1, NONE]));
    assert!(m.contains("value_topk = 1") && m.contains("Token"), "{m}");
    let m = corrupt(|c| set_u32(c, "topk.k", &[2, 3, 1]));
    assert!(m.contains("token_topk keeps k = 3 but 2 are kept"), "{m}");
    let m = corrupt(|c| set_u32(c, "topk.k", &[4, 2, 1]));
    assert!(m.contains("topk call 0") && m.contains("exceeds n"), "{m}");
    let m = corrupt(|c| {
        c.tensors
            .insert("topk.purpose".into(), RawTensor::u8s(&[2, 0, 9]));
    });
    assert!(m.contains("topk.purpose[2] = 9"), "{m}");
    let m = corrupt(|c| set_u32(c, "topk.rounds", &[3, 1, 5, 2, 3]));
    assert!(
        m.contains("topk call 2") && m.contains("first round"),
        "{m}"
    );
    let m = corrupt(|c| {
        c.tensors
            .insert("head_calls.lsb_refetch".into(), RawTensor::u8s(&[1, 2]));
    });
    assert!(m.contains("head_calls.lsb_refetch[1] = 2"), "{m}");
}

#[test]
fn truncated_file_is_a_container_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    write_trace(&p, &small_trace()).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    for cut in [3, 100, bytes.len() - 3] {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        assert!(
            matches!(read_trace(&p), Err(TraceError::Container { .. })),
            "cut at {cut}"
        );
    }
}

#[test]
fn writer_refuses_inconsistent_traces_and_leaves_no_file() {
    let mut t = small_trace();
    t.head_calls[1].values = vec![3];
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    let e = write_trace(&p, &t).unwrap_err();
    assert!(matches!(e, TraceError::Unwritable { .. }));
    assert!(e.to_string().contains("head call 1"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn token_indices_are_u16_when_they_fit_and_u32_otherwise() {
    let narrow = container_of(&small_trace());
    assert_eq!(
        narrow.tensors["head_calls.keys"].dtype,
        safetensors::Dtype::U16
    );
    assert_eq!(
        narrow.tensors["layers.tokens_kept"].dtype,
        safetensors::Dtype::U16
    );
    let mut t = small_trace();
    t.header.prompt_tokens = 70_000;
    t.head_calls[1].keys = vec![1, 4, 69_999, 70_000];
    let wide = container_of(&t);
    assert_eq!(
        wide.tensors["head_calls.keys"].dtype,
        safetensors::Dtype::U32
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.safetensors");
    write_trace(&p, &t).unwrap();
    assert_eq!(read_trace(&p).unwrap(), t);
    // 65536 tokens in all still fit: the largest index is 65535.
    t.header.prompt_tokens = 65_535;
    t.head_calls[1].keys = vec![1, 4, 65_535];
    assert_eq!(
        container_of(&t).tensors["head_calls.keys"].dtype,
        safetensors::Dtype::U16
    );
    write_trace(&p, &t).unwrap();
    assert_eq!(read_trace(&p).unwrap(), t);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Flipped bytes anywhere in a valid file: an error or a valid trace, never a panic.
    #[test]
    fn corrupted_bytes_never_panic(seed in any::<u64>(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let t = random_trace(seed);
        let mut bytes = container::encode(&container_of(&t));
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] ^= b | 1;
        }
        if let Ok(c) = container::decode(std::path::Path::new("fuzz"), &bytes) {
            let _ = spatten::trace::trace_file::decode_trace(std::path::Path::new("fuzz"), &c);
        }
    }
}

#[test]
fn a_reference_generation_trace_round_trips() {
    // The newest token is kept without competing in its own iteration: the token top-k keeps
    // one fewer than the layer (reference SPEC section 9); the file must accept that.
    let mut w = spatten::config::load_workload("gpt2-small").unwrap();
    w.model.layers = 4;
    w.model.heads = 2;
    w.model.hidden = 128;
    w.stage.prompt_tokens = 60;
    w.stage.generated_tokens = 3;
    let values = spatten::trace::generate(&w, &spatten::trace::SynthKnobs::default(), 3);
    let trace = spatten::reference::run_workload(&values, &w).unwrap();
    let exempt = trace.layers.iter().any(|r| {
        r.iteration > 0
            && r.token_topk
                .is_some_and(|i| trace.topk_calls[i as usize].k as usize + 1 == r.tokens_kept.len())
    });
    assert!(
        exempt,
        "the case should exercise the newest-token exemption"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.trace");
    spatten::trace::write_trace(&path, &trace).unwrap();
    assert_eq!(spatten::trace::read_trace(&path).unwrap(), trace);
}
