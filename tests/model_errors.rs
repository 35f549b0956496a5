//! Bad model directories and files: one typed error each, naming the file and reason. Uses a
//! tiny BERT written here with random weights, so every case is cheap.

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, tensor::TensorView};
use spatten::model::{BertModel, DenseAttention, ModelError};

const HIDDEN: usize = 8;
const INTER: usize = 16;
const POSITIONS: usize = 16;
const VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n.\n";

fn config(layers: usize) -> String {
    format!(
        r#"{{"vocab_size": 9, "hidden_size": {HIDDEN}, "num_hidden_layers": {layers},
            "num_attention_heads": 2, "intermediate_size": {INTER},
            "max_position_embeddings": {POSITIONS}, "type_vocab_size": 2,
            "layer_norm_eps": 1e-12, "hidden_act": "gelu"}}"#
    )
}

fn shapes(layers: usize) -> Vec<(String, Vec<usize>)> {
    let mut s = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![9, HIDDEN],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![POSITIONS, HIDDEN],
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, HIDDEN],
        ),
        ("embeddings.LayerNorm.weight".into(), vec![HIDDEN]),
        ("embeddings.LayerNorm.bias".into(), vec![HIDDEN]),
    ];
    for l in 0..layers {
        let p = format!("encoder.layer.{l}.");
        for (name, out, inp) in [
            ("attention.self.query", HIDDEN, HIDDEN),
            ("attention.self.key", HIDDEN, HIDDEN),
            ("attention.self.value", HIDDEN, HIDDEN),
            ("attention.output.dense", HIDDEN, HIDDEN),
            ("intermediate.dense", INTER, HIDDEN),
            ("output.dense", HIDDEN, INTER),
        ] {
            s.push((format!("{p}{name}.weight"), vec![out, inp]));
            s.push((format!("{p}{name}.bias"), vec![out]));
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            s.push((format!("{p}{name}.weight"), vec![HIDDEN]));
            s.push((format!("{p}{name}.bias"), vec![HIDDEN]));
        }
    }
    s
}

/// Writes a tiny model; `edit` may change any tensor's (dtype, shape) or drop it (None).
fn write_model(dir: &Path, edit: impl Fn(&str) -> Option<Option<(Dtype, Vec<usize>)>>) {
    std::fs::write(dir.join("config.json"), config(2)).unwrap();
    std::fs::write(dir.join("vocab.txt"), VOCAB).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut data: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape) in shapes(2) {
        let (dtype, shape) = match edit(&name) {
            Some(None) => continue,
            Some(Some(changed)) => changed,
            None => (Dtype::F32, shape),
        };
        let n: usize = shape.iter().product();
        let width = if dtype == Dtype::F32 { 4 } else { 2 };
        let bytes: Vec<u8> = (0..n)
            .flat_map(|_| rng.gen_range(-0.5f32..0.5).to_le_bytes())
            .take(n * width)
            .collect();
        data.push((name, dtype, shape, bytes));
    }
    let views: HashMap<String, TensorView> = data
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(&views, &None, &dir.join("model.safetensors")).unwrap();
}

fn load_err(dir: &Path) -> ModelError {
    BertModel::load(dir).expect_err("load should fail")
}

#[test]
fn tiny_model_loads_and_embeds() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), |_| None);
    let m = BertModel::load(dir.path()).unwrap();
    let e = m.embed("hello worlds.").unwrap();
    assert_eq!(e.len(), HIDDEN);
    let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    let ids = m.encode("hello worlds.").unwrap();
    assert_eq!(ids, vec![2, 5, 6, 7, 8, 3]);
    // Too long for the position table: the tokenizer truncates, forward() refuses.
    let long = "hello ".repeat(40);
    assert_eq!(m.encode(&long).unwrap().len(), POSITIONS);
    let ids = vec![5u32; POSITIONS + 1];
    assert!(matches!(
        m.forward(&ids, &mut DenseAttention),
        Err(ModelError::TooManyTokens {
            tokens: 17,
            max: 16
        })
    ));
    assert!(matches!(
        m.forward(&[2, 99, 3], &mut DenseAttention),
        Err(ModelError::TokenId { id: 99, .. })
    ));
    assert!(matches!(m.embed(" \n\t "), Err(ModelError::EmptyText)));
}

#[test]
fn missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_err(&dir.path().join("nope"));
    assert!(matches!(e, ModelError::MissingDir { .. }), "{e}");
    assert!(e.to_string().contains("fetch-model.sh"));
}

#[test]
fn directory_without_weights() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), |_| None);
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let e = load_err(dir.path());
    assert!(
        matches!(e, ModelError::MissingFile { ref path } if path.ends_with("model.safetensors")),
        "{e}"
    );
}

#[test]
fn truncated_weights_file() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), |_| None);
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let e = load_err(dir.path());
    assert!(matches!(e, ModelError::Safetensors { .. }), "{e}");
    assert!(e.to_string().contains("model.safetensors"), "{e}");
}

#[test]
fn wrong_shape_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let target = "encoder.layer.1.intermediate.dense.weight";
    write_model(dir.path(), |n| {
        (n == target).then(|| Some((Dtype::F32, vec![HIDDEN, INTER])))
    });
    match load_err(dir.path()) {
        ModelError::TensorShape {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, target);
            assert_eq!(expected, vec![INTER, HIDDEN]);
            assert_eq!(found, vec![HIDDEN, INTER]);
        }
        e => panic!("wrong error: {e}"),
    }
}

#[test]
fn wrong_dtype_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let target = "embeddings.LayerNorm.bias";
    write_model(dir.path(), |n| {
        (n == target).then(|| Some((Dtype::F16, vec![HIDDEN])))
    });
    let e = load_err(dir.path());
    assert!(
        matches!(e, ModelError::TensorDtype { ref name, .. } if name == target),
        "{e}"
    );
}

#[test]
fn missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let target = "encoder.layer.0.attention.self.key.bias";
    write_model(dir.path(), |n| (n == target).then_some(None));
    let e = load_err(dir.path());
    assert!(
        matches!(e, ModelError::MissingTensor { ref name, .. } if name == target),
        "{e}"
    );
}

#[test]
fn bad_config_is_reported_with_the_field() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), |_| None);
    let cfg = config(2).replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 3");
    std::fs::write(dir.path().join("config.json"), cfg).unwrap();
    let e = load_err(dir.path());
    assert!(
        matches!(e, ModelError::Config { .. }) && e.to_string().contains("divisible"),
        "{e}"
    );
    std::fs::write(dir.path().join("config.json"), "{\"hidden_size\": \"big\"}").unwrap();
    let e = load_err(dir.path());
    assert!(e.to_string().contains("config.json"), "{e}");
    let cfg = config(2).replace("\"gelu\"", "\"gelu_new\"");
    std::fs::write(dir.path().join("config.json"), cfg).unwrap();
    assert!(load_err(dir.path()).to_string().contains("gelu_new"));
}

#[test]
fn vocab_without_unknown_token() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), |_| None);
    std::fs::write(dir.path().join("vocab.txt"), "[PAD]\n[CLS]\n[SEP]\n").unwrap();
    let e = load_err(dir.path());
    assert!(
        matches!(e, ModelError::Vocab { .. }) && e.to_string().contains("[UNK]"),
        "{e}"
    );
}
