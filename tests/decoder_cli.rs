//! `spatten accuracy` on the shipped decoders: the printed dense perplexity is the library's
//! (itself checked against numpy in tests/decoder_numpy.rs), a workload moves it, bad
//! arguments exit 2 with a message.

mod common;

use std::path::Path;

use spatten::model::{DecoderModel, DenseCausal, evaluate_lm, heldout_split, windows};

/// A text written for these tests (no data root needed).
const TEXT: &str = "tests/data/decoder-text.txt";

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
        "--text",
        TEXT,
    ]);
    assert_eq!(code, 0, "{err}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = DecoderModel::load(&root.join("models/tiny-llama")).unwrap();
    let text = std::fs::read_to_string(root.join(TEXT)).unwrap();
    let ids = model.encode(&text).unwrap();
    let wins: Vec<&[u32]> = windows(&ids, 128).into_iter().take(3).collect();
    let dense = evaluate_lm(&model, &wins, 1, || DenseCausal, &|| {}).unwrap();
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

#[test]
#[cfg_attr(not(data_wikitext2), ignore = "needs the WikiText-2 validation text")]
fn the_default_text_is_the_split_the_shipped_models_held_out() {
    use sha2::{Digest, Sha256};
    let valid = spatten::data_dir::Dataset::Wikitext2.path();
    let all = std::fs::read_to_string(&valid).unwrap();
    let held = heldout_split(&all);
    // The sha256 of the held-out file scripts/train_decoders.py wrote when it trained the
    // shipped models (its model cards' perplexities are measured on it).
    let digest: String = Sha256::digest(held.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest,
        "fb304572801fd91a5a93427a333e2c1eb32104b7dcea969e411590727042bec6"
    );
    let (code, out, err) =
        common::spatten(&["accuracy", "--model", "models/tiny-gpt2", "--limit", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("held-out last 10 %"), "{out}");
    assert!(out.contains("38342 tokens"), "{out}");
}

#[test]
fn the_split_cuts_at_the_line_after_nine_tenths_of_the_characters() {
    // 39 characters: nine tenths is character 35, on the second line; the third is held out.
    let text = format!("{}\n{}\nc\n", "a".repeat(30), "b".repeat(5));
    assert_eq!(heldout_split(&text), "c\n");
    // Characters, not bytes: 'é' is two bytes, and the cut lands after the same line.
    let accented = format!("{}\n{}\nc\n", "é".repeat(30), "b".repeat(5));
    assert_eq!(heldout_split(&accented), "c\n");
    // 23 characters: character 20 is on the last line, so nothing is held out.
    assert_eq!(heldout_split("aaaa\nbbbb\ncccc\ndddd\nee\n"), "");
    assert_eq!(heldout_split("no newline at all"), "");
}

#[test]
fn compare_scores_each_generation_policy_by_the_decoders_perplexity() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("gen.toml");
    std::fs::write(
        &w,
        "base = \"gpt2-small\"\nname = \"gen\"\n[model]\nlayers = 2\n[stage]\n\
         prompt_tokens = 224\ngenerated_tokens = 32\n",
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let (code, stdout, err) = common::spatten(&[
        "compare",
        "--workload",
        w.to_str().unwrap(),
        "--policies",
        "dense,streaming-llm",
        "--text",
        TEXT,
        "--accuracy-windows",
        "2",
        "--dram",
        "simple",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("| perplexity (tiny-gpt2) |"), "{stdout}");
    assert!(
        stdout.contains("each a 96-token prompt and 32 generated tokens, the 62 predicted"),
        "{stdout}"
    );
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let ppl = |i: usize| rows[i]["accuracy"].as_f64().unwrap();
    // The dense row is the same loop as `spatten accuracy` with a dense policy.
    let dense = dir.path().join("dense.toml");
    std::fs::write(
        &dense,
        format!(
            "base = \"{}\"\nname = \"d\"\n[policy]\nkind = \"dense\"\n",
            w.display()
        ),
    )
    .unwrap();
    let (code, acc, err) = common::spatten(&[
        "accuracy",
        "--model",
        "models/tiny-gpt2",
        "--workload",
        dense.to_str().unwrap(),
        "--prompt",
        "96",
        "--limit",
        "2",
        "--text",
        TEXT,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(acc.contains("62 next tokens scored"), "{acc}");
    assert_eq!(
        format!("{:.3}", ppl(0)),
        format!("{:.3}", field(&acc, "perplexity (d:"))
    );
    // Half the cache (sinks and a recent window) reads less and predicts worse.
    assert!(ppl(1) > ppl(0), "{rows}");
    assert!(out.join("figures/pareto_accuracy_energy.png").is_file());
    // A decoder or text the column cannot read is refused before any simulation.
    for (flag, path, what) in [
        ("--decoder", "tests/data", "not a decoder folder"),
        ("--text", "no-such-text.txt", "reading --text"),
    ] {
        let bad = dir.path().join("bad");
        let (code, _, err) = common::spatten(&[
            "compare",
            "--workload",
            w.to_str().unwrap(),
            flag,
            path,
            "--out",
            bad.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(err.contains(what), "{flag}: {err}");
        assert!(!bad.exists());
    }
}
