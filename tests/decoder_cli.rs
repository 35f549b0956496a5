//! `spatten accuracy` on the shipped decoders: the printed dense perplexity is the library's
//! (itself checked against numpy in tests/decoder_numpy.rs), a workload moves it, bad
//! arguments exit 2 with a message.

mod common;

use std::path::Path;

use spatten::model::{DecoderModel, DenseCausal, evaluate_lm, windows};

fn field(out: &str, prefix: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in {out}"));
    let value = line
        .rsplit(": ")
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    value.parse().unwrap()
}

#[test]
fn accuracy_prints_dense_and_pruned_perplexity() {
    let (code, out, err) = common::spatten(&[
        "accuracy",
        "--model",
        "models/tiny-llama",
        "--workload",
        "gpt2-small",
        "--limit",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
    let model =
        DecoderModel::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tiny-llama"))
            .unwrap();
    let text = std::fs::read_to_string(model.dir().join("heldout.txt")).unwrap();
    let ids = model.encode(&text).unwrap();
    let wins: Vec<&[u32]> = windows(&ids, 128).into_iter().take(3).collect();
    let dense = evaluate_lm(&model, &wins, || DenseCausal, &|| {}).unwrap();
    let printed = field(&out, "perplexity (dense)");
    assert_eq!(
        format!("{printed:.3}"),
        format!("{:.3}", dense.perplexity())
    );
    assert!(out.contains("381 next tokens scored"), "{out}");
    let pruned = field(&out, "perplexity (gpt2-small");
    assert!(pruned.is_finite() && pruned != printed, "{out}");
    let agreement = field(&out, "top-1 next-token agreement with dense");
    assert!((0.0..=100.0).contains(&agreement), "{out}");
    assert!(out.contains("K/V rows alive after the last layer"), "{out}");
}

#[test]
fn bad_decoder_arguments_exit_2() {
    let (code, _, err) = common::spatten(&[
        "accuracy",
        "--model",
        "models/tiny-gpt2",
        "--window",
        "1000",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--window 1000") && err.contains("2..=256"),
        "{err}"
    );
    let (code, _, err) = common::spatten(&[
        "accuracy",
        "--model",
        "models/tiny-gpt2",
        "--text",
        "no/such/file.txt",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/file.txt"), "{err}");
    let (code, _, err) =
        common::spatten(&["accuracy", "--model", "models/tiny-gpt2", "--data", "x.tsv"]);
    assert_eq!(code, 2);
    assert!(err.contains("--text"), "{err}");
}
