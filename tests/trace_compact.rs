//! Trace version 3: compact token index lists (ranges / bitmaps / plain lists, chosen per
//! list) for traces of more than 65536 tokens. Round trips are exact, older versions of the
//! same trace still read, and malformed words are named errors.

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::config::workload::StageKind;
use spatten::trace::attention::TRACE_FORMAT_VERSION;
use spatten::trace::container::{self, RawTensor};
use spatten::trace::index_codec::{self, BITMAP, LIST, RANGES};
use spatten::trace::trace_file::{decode_trace, encode_trace, encode_trace_as};
use spatten::trace::{
    AttentionTrace, HeadCall, LayerRecord, TopkCall, TopkPurpose, TraceHeader, read_trace,
    write_trace,
};

/// One generation iteration after a 70000-token prompt: a dense head (its keys one range),
/// a head with locally pruned V (every third key: a bitmap), and a layer record keeping a
/// scattered set of tokens (a plain list).
fn long_trace() -> AttentionTrace {
    let tokens = 70_001u32;
    let keys: Vec<u32> = (0..tokens).collect();
    let thirds: Vec<u32> = (0..tokens).step_by(3).collect();
    let scattered: Vec<u32> = (0..tokens)
        .filter(|t| t % 997 == 0)
        .chain([tokens - 1])
        .collect();
    let call = |head: u32, values: Vec<u32>, value_topk: Option<u32>| HeadCall {
        sequence: 0,
        iteration: 1,
        layer: 0,
        head,
        queries: 1,
        query_bits: 12,
        keys: keys.clone(),
        values,
        key_msb_bits: 8,
        value_msb_bits: 8,
        lsb_bits: 4,
        requant_rows: 0,
        lsb_refetch: false,
        accumulate_importance: true,
        value_topk,
    };
    AttentionTrace {
        header: TraceHeader {
            workload: "long".into(),
            source: "test".into(),
            layers: 1,
            heads: 2,
            head_dim: 128,
            stage: StageKind::Generation,
            prompt_tokens: tokens - 1,
            generated_tokens: 1,
            seed: 1,
            kv_heads: None,
            softmax_key_tile_rows: None,
            batch: None,
            value_topk_entries: None,
        },
        head_calls: vec![
            call(0, keys.clone(), None),
            call(1, thirds.clone(), Some(0)),
        ],
        layers: vec![LayerRecord {
            sequence: 0,
            iteration: 1,
            layer: 0,
            tokens_kept: scattered,
            heads_kept: vec![0, 1],
            token_topk: None,
            head_topk: None,
        }],
        topk_calls: vec![TopkCall {
            purpose: TopkPurpose::LocalValue,
            n: tokens,
            k: thirds.len() as u32,
            rounds: vec![tokens, 30_000],
            stages: Vec::new(),
        }],
    }
}

#[test]
fn long_traces_round_trip_exactly_in_fewer_bytes() {
    let t = long_trace();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    write_trace(&p, &t).unwrap();
    assert_eq!(read_trace(&p).unwrap(), t);
    let c = container::read(&p).unwrap();
    assert_eq!(c.metadata["version"], "3");
    let codes = c.u8_column(&p, "head_calls.value_encoding").unwrap();
    assert_eq!(codes, vec![RANGES, BITMAP]);
    assert_eq!(
        c.u8_column(&p, "head_calls.key_encoding").unwrap(),
        vec![RANGES, RANGES]
    );
    assert_eq!(
        c.u8_column(&p, "layers.token_encoding").unwrap(),
        vec![LIST]
    );
    // The same trace as version 1: 32-bit indices, every one stored.
    let v1 = encode_trace_as(&p, &t, 1).unwrap();
    let v3 = encode_trace(&p, &t).unwrap();
    let (b1, b3) = (container::encode(&v1).len(), container::encode(&v3).len());
    assert!(b3 * 10 < b1, "version 3 {b3} B vs version 1 {b1} B");
    // Older versions of a long trace still read, to the same trace.
    for v in [1, 2] {
        let c = encode_trace_as(&p, &t, v).unwrap();
        assert_eq!(c.metadata["version"], v.to_string());
        assert_eq!(decode_trace(&p, &c).unwrap(), t);
    }
    // Determinism: the same trace, the same bytes.
    assert_eq!(
        container::encode(&encode_trace(&p, &t).unwrap()),
        container::encode(&v3)
    );
}

#[test]
fn every_list_round_trips_through_the_codec() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut seen = [0usize; 3];
    for _ in 0..2000 {
        let n = rng.gen_range(0..5000u32);
        let density: f64 = rng.r#gen::<f64>().powi(3);
        let run = rng.gen_range(1..64u32);
        // Runs of `run` tokens kept or dropped together at random: every form shows up.
        let list: Vec<u32> = (0..n)
            .filter(|t| {
                let mut r = ChaCha8Rng::seed_from_u64((t / run) as u64 ^ n as u64);
                r.gen_bool(density)
            })
            .collect();
        let (code, words) = index_codec::encode(&list);
        seen[code as usize] += 1;
        assert!(
            words.len() <= list.len(),
            "{code}: never longer than the list"
        );
        assert_eq!(index_codec::decoded_len(code, &words), list.len() as u64);
        assert_eq!(index_codec::decode(code, &words, 1 << 17).unwrap(), list);
    }
    assert!(seen.iter().all(|&s| s > 50), "{seen:?}");
}

#[test]
fn malformed_compact_lists_are_named_errors() {
    let t = long_trace();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    let good = encode_trace(&p, &t).unwrap();
    // An unknown code.
    let mut c = good.clone();
    c.tensors.insert(
        "head_calls.key_encoding".into(),
        RawTensor::u8s(&[RANGES, 9]),
    );
    let e = decode_trace(&p, &c).unwrap_err().to_string();
    assert!(
        e.contains("head_calls.keys") && e.contains("record 1"),
        "{e}"
    );
    // A range reaching past the trace's tokens.
    let mut c = good.clone();
    let words = c.u32_column(&p, "head_calls.keys").unwrap();
    let mut bad = words.clone();
    bad[1] = 200_000;
    c.tensors
        .insert("head_calls.keys".into(), RawTensor::u32s(&bad));
    let e = decode_trace(&p, &c).unwrap_err().to_string();
    assert!(e.contains("head_calls.keys"), "{e}");
    // A missing code column.
    let mut c = good.clone();
    c.tensors.remove("layers.token_encoding");
    let e = decode_trace(&p, &c).unwrap_err().to_string();
    assert!(e.contains("layers.token_encoding"), "{e}");
    // Short traces are still written as version 1.
    let mut short = t.clone();
    short.header.prompt_tokens = 100;
    short.head_calls.truncate(0);
    short.topk_calls.clear();
    short.layers[0].tokens_kept = vec![0, 5, 100];
    let c = encode_trace(&p, &short).unwrap();
    assert_eq!(c.metadata["version"], "1");
    assert!(encode_trace_as(&p, &short, TRACE_FORMAT_VERSION + 1).is_err());
    // A two-pass design's key tile needs version 4, lists then compact; it round-trips, and
    // a file of an older version that names it is refused.
    short.header.softmax_key_tile_rows = Some(1024);
    let c = encode_trace(&p, &short).unwrap();
    assert_eq!(c.metadata["version"], "4");
    assert_eq!(decode_trace(&p, &c).unwrap(), short);
    assert!(encode_trace_as(&p, &short, 3).is_err());
    let mut old = c.clone();
    old.metadata.insert("version".into(), "3".into());
    let e = decode_trace(&p, &old).unwrap_err().to_string();
    assert!(e.contains("softmax_key_tile_rows"), "{e}");
}

#[test]
fn the_python_reader_decodes_version_3() {
    let t = long_trace();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    write_trace(&p, &t).unwrap();
    let code = format!(
        "import sys, runpy; sys.argv = ['read_trace.py', {:?}]; \
         g = runpy.run_path('scripts/read_trace.py'); \
         v = g['index_lists']('head_calls.values', 'head_calls.value_offsets', 'head_calls.value_encoding'); \
         k = g['index_lists']('layers.tokens_kept', 'layers.token_offsets', 'layers.token_encoding'); \
         print('values', [int(x.sum()) for x in v], [len(x) for x in v]); \
         print('tokens', int(k[0].sum()), len(k[0]))",
        p.to_str().unwrap()
    );
    let Some(out) = common::python(&code, &["numpy", "safetensors"]) else {
        return;
    };
    let sum = |l: &[u32]| l.iter().map(|&x| x as u64).sum::<u64>();
    let c = &t.head_calls;
    let want = format!(
        "values [{}, {}] [{}, {}]",
        sum(&c[0].values),
        sum(&c[1].values),
        c[0].values.len(),
        c[1].values.len()
    );
    assert!(out.contains(&want), "{out}\nwant {want}");
    let k = &t.layers[0].tokens_kept;
    assert!(
        out.contains(&format!("tokens {} {}", sum(k), k.len())),
        "{out}"
    );
    assert!(out.contains("head calls: 2  keys fetched: 140002"), "{out}");
}
