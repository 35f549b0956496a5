//! `spatten trace capture` on the shipped decoders: the one-pass capture holds the values a
//! prompt pass and one generation step per token see, and `spatten run --values` replays it.

mod common;

use std::path::Path;

use spatten::model::attention::CaptureKernel;
use spatten::model::{DecoderModel, DenseCausal, KvCache, capture_decoder};

const TEXT: &str = "tests/data/decoder-text.txt";

fn max_abs(a: ndarray::ArrayView3<f32>, b: ndarray::ArrayView3<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn one_pass_capture_equals_what_step_by_step_generation_sees() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["tiny-gpt2", "tiny-llama"] {
        let model = DecoderModel::load(&root.join("models").join(name)).unwrap();
        let cfg = model.config().clone();
        let text = std::fs::read_to_string(root.join(TEXT)).unwrap();
        let ids: Vec<u32> = model.encode(&text).unwrap().into_iter().take(40).collect();
        let prompt = 32;
        let values = capture_decoder(&model, &ids, prompt).unwrap();
        assert_eq!(values.meta.prompt_tokens, 32);
        assert!(values.meta.causal);
        assert_eq!(values.layers.len(), cfg.num_layers);
        assert_eq!(values.heads(), cfg.num_heads);
        assert_eq!(values.kv_heads(), cfg.num_kv_heads);
        assert_eq!(values.tokens(), 40);

        let mut kernel = CaptureKernel::new(DenseCausal);
        let mut cache = KvCache::new(&cfg, ids.len());
        model
            .forward(&ids[..prompt], &mut cache, &mut kernel)
            .unwrap();
        for t in prompt..ids.len() {
            model
                .forward(&ids[t..t + 1], &mut cache, &mut kernel)
                .unwrap();
        }
        // The last step's calls: one query row, the whole cache.
        let last = &kernel.layers[kernel.layers.len() - cfg.num_layers..];
        for (l, (step, whole)) in last.iter().zip(&values.layers).enumerate() {
            let n = ids.len();
            let dk = max_abs(step.k.view(), whole.k.view());
            let dv = max_abs(step.v.view(), whole.v.view());
            let dq = max_abs(step.q.view(), whole.q.slice(ndarray::s![.., n - 1..n, ..]));
            assert!(
                dk < 1e-4 && dv < 1e-4 && dq < 1e-4,
                "{name} layer {l}: |dK| {dk}, |dV| {dv}, |dQ| {dq}"
            );
        }
    }
}

#[test]
fn captured_decoder_values_replay_through_run_and_a_wrong_shape_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("cap.safetensors");
    let (code, out, err) = common::spatten(&[
        "trace",
        "capture",
        "--model",
        "models/tiny-llama",
        "--text",
        TEXT,
        "--generated",
        "16",
        "--out",
        values.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("truncated to the first 256"), "{err}");
    assert!(
        out.contains("256 tokens (240 prompt + 16 generated)"),
        "{out}"
    );
    // The printed table is a workload shape that replays the file.
    let shape = &out[out.find("[model]").unwrap()..];
    let w = dir.path().join("w.toml");
    std::fs::write(
        &w,
        format!("base = \"gpt2-small\"\nname = \"cap\"\n{shape}"),
    )
    .unwrap();
    let report = dir.path().join("r");
    let (code, out, err) = common::spatten(&[
        "run",
        "--values",
        values.to_str().unwrap(),
        "--workload",
        w.to_str().unwrap(),
        "--dram",
        "simple",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cycles"), "{out}");
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        format!(
            "base = \"gpt2-small\"\nname = \"cap\"\n{}",
            shape.replace("prompt_tokens = 240", "prompt_tokens = 200")
        ),
    )
    .unwrap();
    let (code, _, err) = common::spatten(&[
        "run",
        "--values",
        values.to_str().unwrap(),
        "--workload",
        wrong.to_str().unwrap(),
        "--out",
        dir.path().join("r2").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("prompt"), "{err}");
    let (code, _, err) = common::spatten(&[
        "trace",
        "capture",
        "--model",
        "models/tiny-gpt2",
        "--text",
        TEXT,
        "--generated",
        "0",
        "--out",
        dir.path().join("x.safetensors").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--generated 0"), "{err}");
}
