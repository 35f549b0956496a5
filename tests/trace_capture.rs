//! `spatten trace capture` and `spatten trace reference` end to end, and the shipped real
//! value file (traces/minilm-sts.values.safetensors) against its workload and its text.

mod common;

use common::{data, spatten_output as spatten, text};
use std::path::{Path, PathBuf};
use std::process::Command;

use spatten::config::load_workload;
use spatten::model::{BertModel, WordPieceTokenizer, capture};
use spatten::reference::run_workload;
use spatten::trace::read_values;
use spatten::trace::totals::totals;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn shipped_values_match_the_minilm_workload_and_run_through_the_reference() {
    let v = read_values(&repo("traces/minilm-sts.values.safetensors")).unwrap();
    let w = load_workload("minilm").unwrap();
    let from_file = load_workload(s(&repo("workloads/minilm.toml"))).unwrap();
    assert_eq!(w, from_file, "preset and workloads/minilm.toml differ");
    assert_eq!(v.meta.model, "all-MiniLM-L6-v2");
    assert_eq!(v.meta.source, "minilm-text.txt");
    assert!(!v.meta.causal && !w.model.causal);
    assert_eq!(v.layers.len(), w.model.layers as usize);
    assert_eq!(v.heads(), w.model.heads as usize);
    assert_eq!(v.head_dim(), w.model.head_dim as usize);
    assert_eq!(v.tokens(), w.final_tokens() as usize);
    assert_eq!(v.meta.prompt_tokens, w.stage.prompt_tokens);
    assert_eq!(w.model.hidden, w.model.heads * w.model.head_dim);

    let t = run_workload(&v, &w).unwrap();
    let tot = totals(&t);
    assert_eq!(tot.iterations, 1);
    // Head pruning removes some of the 72 heads of later layers, never all of a layer's.
    assert!(tot.head_calls < 72 && tot.head_calls >= 6, "{tot:?}");
    // Token pruning: the last layer keeps fewer tokens than the first.
    let first = &tot.per_layer[0];
    let last = tot.per_layer.last().unwrap();
    assert_eq!(first.tokens_kept_max, v.tokens() as u64);
    assert!(last.tokens_kept_max < first.tokens_kept_max, "{tot:?}");
    assert!(tot.topk_token_calls > 0 && tot.topk_head_calls > 0);
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn shipped_token_count_is_the_text_token_count() {
    let tok =
        WordPieceTokenizer::from_vocab_file(&data("models/all-MiniLM-L6-v2/vocab.txt")).unwrap();
    let text = std::fs::read_to_string(repo("traces/minilm-text.txt")).unwrap();
    let n = tok.encode(&text, 512).unwrap().len();
    assert_eq!(
        n as u32,
        load_workload("minilm").unwrap().stage.prompt_tokens
    );
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn recapturing_the_shipped_text_reproduces_the_shipped_values() {
    let model = BertModel::load(&data("models/all-MiniLM-L6-v2")).unwrap();
    let text = std::fs::read_to_string(repo("traces/minilm-text.txt")).unwrap();
    let fresh = capture(&model, &text).unwrap();
    let shipped = read_values(&repo("traces/minilm-sts.values.safetensors")).unwrap();
    assert_eq!(fresh.layers.len(), shipped.layers.len());
    // Float summation order in the matrix kernels may differ between CPUs: compare with a
    // tolerance relative to each tensor's largest magnitude.
    for (l, (a, b)) in fresh.layers.iter().zip(&shipped.layers).enumerate() {
        for (name, x, y) in [("q", &a.q, &b.q), ("k", &a.k, &b.k), ("v", &a.v, &b.v)] {
            assert_eq!(x.shape(), y.shape());
            let scale = y.iter().fold(0f32, |m, e| m.max(e.abs()));
            let diff = x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(diff <= 1e-4 * scale, "layer {l} {name}: {diff} vs {scale}");
        }
    }
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn capture_cli_writes_the_library_capture_with_the_file_name_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("two.txt");
    std::fs::write(
        &txt,
        "Pruned tokens vanish from later layers.\nHeads too.\n",
    )
    .unwrap();
    let out = dir.path().join("v.safetensors");
    let model = data("models/all-MiniLM-L6-v2");
    let o = spatten(&[
        "trace",
        "capture",
        "--model",
        s(&model),
        "--text",
        s(&txt),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v = read_values(&out).unwrap();
    assert_eq!(v.meta.source, "two.txt");
    let mut want = capture(
        &BertModel::load(&model).unwrap(),
        &std::fs::read_to_string(&txt).unwrap(),
    )
    .unwrap();
    want.meta.source = "two.txt".into();
    assert_eq!(v, want);
    assert!(text(&o).contains("6 layers x 12 heads"), "{}", text(&o));

    // And the reference over it, with a matching workload written on the fly.
    let w = dir.path().join("w.toml");
    std::fs::write(
        &w,
        format!(
            "base = \"minilm\"\nname = \"two\"\n[stage]\nprompt_tokens = {}\n",
            v.tokens()
        ),
    )
    .unwrap();
    let t = dir.path().join("t.safetensors");
    let o = spatten(&[
        "trace",
        "reference",
        "--workload",
        s(&w),
        "--values",
        s(&out),
        "--out",
        s(&t),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let trace = spatten::trace::read_trace(&t).unwrap();
    let tot = totals(&trace);
    let printed = text(&o);
    for line in [
        format!("head calls     {}", tot.head_calls),
        format!("keys fetched   {}", tot.keys_fetched),
        format!("LSB refetches  {}", tot.lsb_refetches),
        format!("top-k calls    {} token", tot.topk_token_calls),
    ] {
        assert!(printed.contains(&line), "missing {line:?} in {printed}");
    }
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn long_text_is_truncated_to_512_tokens_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("long.txt");
    std::fs::write(&txt, "attention ".repeat(600)).unwrap();
    let out = dir.path().join("v.safetensors");
    let o = spatten(&[
        "trace",
        "capture",
        "--model",
        s(&data("models/all-MiniLM-L6-v2")),
        "--text",
        s(&txt),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning") && err.contains("602 tokens") && err.contains("truncated"),
        "{err}"
    );
    assert_eq!(read_values(&out).unwrap().tokens(), 512);
}

fn fails_cleanly(args: &[&str], out: &Path, needles: &[&str]) {
    let o = spatten(args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    for n in needles {
        assert!(text(&o).contains(n), "missing {n:?} in {}", text(&o));
    }
    assert!(!out.exists(), "partial output {}", out.display());
    if let Some(parent) = out.parent().filter(|p| p.is_dir()) {
        let left: Vec<_> = std::fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("safetensors"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn capture_bad_input_exits_2_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = data("models/all-MiniLM-L6-v2");
    let good = dir.path().join("good.txt");
    std::fs::write(&good, "A short sentence.").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("v.safetensors");

    // A model directory with config and vocabulary but no weights.
    let no_weights = dir.path().join("model");
    std::fs::create_dir(&no_weights).unwrap();
    for f in ["config.json", "vocab.txt"] {
        std::fs::copy(model.join(f), no_weights.join(f)).unwrap();
    }
    fails_cleanly(
        &[
            "trace",
            "capture",
            "--model",
            s(&no_weights),
            "--text",
            s(&good),
            "--out",
            s(&out),
        ],
        &out,
        &["model.safetensors"],
    );

    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, " \n\t\n").unwrap();
    fails_cleanly(
        &[
            "trace",
            "capture",
            "--model",
            s(&model),
            "--text",
            s(&empty),
            "--out",
            s(&out),
        ],
        &out,
        &["empty.txt", "empty"],
    );

    let missing = dir.path().join("missing.txt");
    fails_cleanly(
        &[
            "trace",
            "capture",
            "--model",
            s(&model),
            "--text",
            s(&missing),
            "--out",
            s(&out),
        ],
        &out,
        &["missing.txt"],
    );

    let nowhere = dir.path().join("no/such/dir/v.safetensors");
    fails_cleanly(
        &[
            "trace",
            "capture",
            "--model",
            s(&model),
            "--text",
            s(&good),
            "--out",
            s(&nowhere),
        ],
        &nowhere,
        &["no/such/dir", "does not exist"],
    );
}

#[test]
fn reference_shape_mismatch_names_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.safetensors");
    fails_cleanly(
        &[
            "trace",
            "reference",
            "--workload",
            "bert-base",
            "--values",
            "traces/minilm-sts.values.safetensors",
            "--out",
            s(&out),
        ],
        &out,
        &[
            "values have 6 layers x 12 heads x 32 dims x 119 tokens",
            "workload bert-base wants 12 layers x 12 heads x 64 dims x 128 tokens",
        ],
    );
    let input_dir = tempfile::tempdir().unwrap();
    let bad = input_dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"not a safetensors file").unwrap();
    fails_cleanly(
        &[
            "trace",
            "reference",
            "--workload",
            "minilm",
            "--values",
            s(&bad),
            "--out",
            s(&out),
        ],
        &out,
        &["bad.safetensors"],
    );
}

#[test]
#[cfg_attr(
    not(data_minilm),
    ignore = "needs the MiniLM model (see data/README.md)"
)]
fn default_model_comes_from_the_data_root_or_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("t.txt");
    std::fs::write(&txt, "Heads whose outputs stay small are pruned.").unwrap();
    let out = dir.path().join("v.safetensors");
    let args = ["trace", "capture", "--text", s(&txt), "--out", s(&out)];
    // From a directory with no data/ and no SPATTEN_DATA: a clear error.
    let empty = tempfile::tempdir().unwrap();
    let cwd = empty.path().join("repo");
    std::fs::create_dir(&cwd).unwrap();
    let run = |data_env: Option<&Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spatten"));
        c.args(args).current_dir(&cwd).env_remove("SPATTEN_DATA");
        if let Some(d) = data_env {
            c.env("SPATTEN_DATA", d);
        }
        c.output().unwrap()
    };
    let o = run(None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("scripts/fetch-model.sh"), "{}", text(&o));
    assert!(text(&o).contains("SPATTEN_DATA"), "{}", text(&o));
    assert!(!out.exists());
    // SPATTEN_DATA names the data root: the model is found below it.
    let model = std::fs::canonicalize(data("models/all-MiniLM-L6-v2")).unwrap();
    let root = model.parent().unwrap().parent().unwrap();
    let o = run(Some(root));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(read_values(&out).unwrap().meta.model, "all-MiniLM-L6-v2");
    // Without the variable, data/ in the working directory is the root.
    std::fs::remove_file(&out).unwrap();
    std::fs::create_dir_all(cwd.join("data/models")).unwrap();
    std::os::unix::fs::symlink(&model, cwd.join("data/models/all-MiniLM-L6-v2")).unwrap();
    let o = run(None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(read_values(&out).unwrap().meta.model, "all-MiniLM-L6-v2");
}
