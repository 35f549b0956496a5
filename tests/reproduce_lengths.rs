//! The STS-B input length of the benchmark workloads is recomputed from the dev set with the
//! real BERT WordPiece tokenizer, and the median is checked against the published median.

mod common;

use common::data;
use spatten::model::{WordPieceTokenizer, read_sts};
use spatten::reproduce::{benchmarks, lengths};

#[test]
#[cfg_attr(
    not(all(data_minilm, data_stsb)),
    ignore = "needs the MiniLM model and STS-B dev (see data/README.md)"
)]
fn stsb_length_is_the_dev_set_mean() {
    let pairs = read_sts(&data("data/stsb/sts-dev.tsv")).unwrap();
    assert_eq!(pairs.len(), 1500);
    let tok =
        WordPieceTokenizer::from_vocab_file(&data("models/all-MiniLM-L6-v2/vocab.txt")).unwrap();
    let lens = lengths::pair_lengths(&tok, &pairs);
    let (mean, median) = lengths::mean_median(&lens).unwrap();
    eprintln!("STS-B dev: mean {mean}, median {median}");
    // The published median (retraining-free-pruning GLUE metadata) is 29 tokens.
    assert!((median - 29.0).abs() <= 1.0, "median {median}");
    for name in ["bert-base-sts-b", "bert-large-sts-b"] {
        let b = benchmarks::load(name).unwrap();
        assert_eq!(
            b.workload.stage.prompt_tokens as f64,
            mean.round(),
            "{name}"
        );
    }
}

#[test]
fn mean_and_median_by_hand() {
    assert_eq!(lengths::mean_median(&[3, 1, 2]), Some((2.0, 2.0)));
    assert_eq!(lengths::mean_median(&[4, 1, 2, 3]), Some((2.5, 2.5)));
    assert_eq!(lengths::mean_median(&[]), None);
}

#[test]
fn all_thirty_benchmarks_load_with_their_documented_rules() {
    assert_eq!(benchmarks::BENCHMARKS.len(), 30);
    for (name, _) in benchmarks::BENCHMARKS {
        let b = benchmarks::load(name).unwrap();
        let w = &b.workload;
        assert_eq!(&w.name, name);
        if name.starts_with("bert") {
            // "Longer sentences are pruned more": the step rule of the workload files.
            let l = w.stage.prompt_tokens;
            let want = match l {
                0..32 => 0.2,
                32..64 => 0.3,
                64..128 => 0.4,
                _ => 0.5,
            };
            assert_eq!(w.token_pruning.average_ratio, want, "{name}");
            assert_eq!(w.stage.generated_tokens, 0);
        } else {
            assert_eq!((w.stage.prompt_tokens, w.stage.generated_tokens), (992, 32));
        }
    }
}
