//! The WordPiece tokenizer against ids from the real Hugging Face tokenizer
//! (tests/golden/model/, written by scripts/gen-tokenizer-golden.py).

mod common;

use common::data;
use std::path::PathBuf;

use spatten::model::{WordPieceTokenizer, read_sts};

fn golden(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/model")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tokenizer() -> WordPieceTokenizer {
    WordPieceTokenizer::from_vocab_file(&data("models/all-MiniLM-L6-v2/vocab.txt")).unwrap()
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn edge_cases_match_hugging_face() {
    let tok = tokenizer();
    let mut checked = 0;
    for line in golden("tokenizer_cases.jsonl").lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let max = case["max_length"]
            .as_u64()
            .map_or(usize::MAX, |m| m as usize);
        let want: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(tok.encode(text, max).unwrap(), want, "text {text:?}");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} cases");
}

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn every_stsb_dev_sentence_matches_hugging_face() {
    let tok = tokenizer();
    let pairs = read_sts(&data("data/stsb/sts-dev.tsv")).unwrap();
    let golden = golden("tokenizer_stsb_dev.tsv");
    let parse = |s: &str| -> Vec<u32> { s.split(' ').map(|x| x.parse().unwrap()).collect() };
    let mut lines = golden.lines();
    for p in &pairs {
        let cols: Vec<&str> = lines
            .next()
            .expect("golden shorter than data")
            .split('\t')
            .collect();
        assert_eq!(cols[0].parse::<usize>().unwrap(), p.line);
        assert_eq!(
            tok.encode(&p.sentence1, usize::MAX).unwrap(),
            parse(cols[1]),
            "{:?}",
            p.sentence1
        );
        assert_eq!(
            tok.encode(&p.sentence2, usize::MAX).unwrap(),
            parse(cols[2]),
            "{:?}",
            p.sentence2
        );
    }
    assert!(lines.next().is_none(), "golden longer than data");
    assert_eq!(pairs.len(), 1500);
}

/// The `tokenizers` crate (the decoders' tokenizer) on MiniLM's own tokenizer.json gives the
/// same ids as the hand-written WordPiece and Hugging Face on every STS-B dev sentence and
/// on the edge cases without truncation.
#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn the_tokenizers_crate_matches_on_every_stsb_dev_sentence() {
    let hf =
        spatten::model::HfTokenizer::from_file(&data("models/all-MiniLM-L6-v2/tokenizer.json"))
            .unwrap()
            .without_truncation();
    let wp = tokenizer();
    let pairs = read_sts(&data("data/stsb/sts-dev.tsv")).unwrap();
    let mut checked = 0;
    for p in &pairs {
        for s in [&p.sentence1, &p.sentence2] {
            assert_eq!(
                hf.encode(s, true).unwrap(),
                wp.encode(s, usize::MAX).unwrap(),
                "{s:?}"
            );
            checked += 1;
        }
    }
    for line in golden("tokenizer_cases.jsonl").lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        if case["max_length"].as_u64().is_some() {
            continue;
        }
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(hf.encode(text, true).unwrap(), want, "text {text:?}");
        checked += 1;
    }
    assert!(checked > 3000, "only {checked} sentences");
}
