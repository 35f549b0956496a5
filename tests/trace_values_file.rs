//! Value tensor files: round trip, determinism, and one clear error per kind of bad file.

use std::path::Path;

use ndarray::{Array3, ShapeBuilder};
use spatten::trace::container::{self, RawTensor};
use spatten::trace::{LayerValues, TraceError, ValueMeta, ValueTensors, read_values, write_values};

fn sample(layers: usize, heads: usize, tokens: usize, dim: usize) -> ValueTensors {
    let arr = |salt: f32| {
        Array3::from_shape_fn((heads, tokens, dim), |(h, t, d)| {
            salt + h as f32 * 0.5 - t as f32 * 0.25 + d as f32 * 0.125
        })
    };
    ValueTensors {
        meta: ValueMeta {
            model: "unit-test".into(),
            source: "hand-made".into(),
            seed: 42,
            prompt_tokens: tokens as u32 - 1,
            causal: true,
        },
        layers: (0..layers)
            .map(|l| LayerValues {
                q: arr(l as f32),
                k: arr(-(l as f32)),
                v: arr(l as f32 * 3.0 + 1.0),
            })
            .collect(),
    }
}

#[test]
fn round_trip_is_exact_and_bytes_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let v = sample(3, 2, 5, 4);
    let a = dir.path().join("a.safetensors");
    let b = dir.path().join("b.safetensors");
    write_values(&a, &v).unwrap();
    write_values(&b, &v).unwrap();
    assert_eq!(read_values(&a).unwrap(), v);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // Only the two outputs: no temporary files left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn non_standard_layout_is_written_in_logical_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = sample(1, 2, 3, 4);
    let t = v.layers[0].q.clone();
    // A transposed-then-copied view has a different memory order, same logical values.
    let mut fortran = Array3::<f32>::zeros(t.dim().f());
    fortran.assign(&t);
    v.layers[0].q = fortran;
    let p = dir.path().join("f.safetensors");
    write_values(&p, &v).unwrap();
    assert_eq!(read_values(&p).unwrap().layers[0].q, t);
}

/// Writes `v`, applies `edit` to its container, writes it back, and reads it.
fn read_edited(
    v: &ValueTensors,
    edit: impl FnOnce(&mut container::Container),
) -> (TraceError, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.safetensors");
    write_values(&p, v).unwrap();
    let mut c = container::read(&p).unwrap();
    edit(&mut c);
    container::write(&p, &c).unwrap();
    let e = read_values(&p).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("v.safetensors"),
        "message names the file: {msg}"
    );
    (e, msg)
}

#[test]
fn wrong_dtype_is_named() {
    let (_, msg) = read_edited(&sample(2, 1, 2, 2), |c| {
        let t = c.tensors.get_mut("layers.1.k").unwrap();
        t.dtype = safetensors::Dtype::I32;
    });
    assert!(msg.contains("layers.1.k") && msg.contains("I32"), "{msg}");
}

#[test]
fn wrong_rank_is_named() {
    let (_, msg) = read_edited(&sample(1, 2, 3, 4), |c| {
        let t = c.tensors.get_mut("layers.0.v").unwrap();
        t.shape = vec![6, 4];
    });
    assert!(
        msg.contains("layers.0.v") && msg.contains("rank 3"),
        "{msg}"
    );
}

#[test]
fn inconsistent_shapes_across_layers_are_named() {
    let (_, msg) = read_edited(&sample(2, 2, 3, 4), |c| {
        let t = c.tensors.get_mut("layers.1.q").unwrap();
        t.shape = vec![2, 4, 3];
    });
    assert!(
        msg.contains("layers.1.q") && msg.contains("[2, 4, 3]"),
        "{msg}"
    );
}

#[test]
fn missing_layer_tensor_is_named() {
    let (e, msg) = read_edited(&sample(3, 1, 2, 2), |c| {
        c.tensors.remove("layers.1.v");
    });
    assert!(matches!(e, TraceError::Tensor { .. }));
    assert!(
        msg.contains("layers.1.v") && msg.contains("missing"),
        "{msg}"
    );
}

#[test]
fn no_layers_at_all_is_an_error() {
    let (_, msg) = read_edited(&sample(1, 1, 2, 2), |c| c.tensors.clear());
    assert!(msg.contains("no layers"), "{msg}");
}

#[test]
fn stray_layer_tensor_name_is_rejected() {
    let (_, msg) = read_edited(&sample(1, 1, 2, 2), |c| {
        c.tensors.insert("layers.0.o".into(), RawTensor::u8s(&[1]));
    });
    assert!(msg.contains("layers.0.o"), "{msg}");
}

#[test]
fn missing_and_bad_metadata_are_named() {
    for key in [
        "format",
        "version",
        "model",
        "source",
        "seed",
        "prompt_tokens",
        "causal",
    ] {
        let (e, msg) = read_edited(&sample(1, 1, 2, 2), |c| {
            c.metadata.remove(key);
        });
        assert!(matches!(e, TraceError::Metadata { .. }), "{key}: {msg}");
        assert!(msg.contains(key) && msg.contains("missing"), "{msg}");
    }
    let (_, msg) = read_edited(&sample(1, 1, 2, 2), |c| {
        c.metadata.insert("version".into(), "2".into());
    });
    assert!(msg.contains("version"), "{msg}");
    let (_, msg) = read_edited(&sample(1, 1, 2, 2), |c| {
        c.metadata.insert("format".into(), "spatten-trace".into());
    });
    assert!(msg.contains("format"), "{msg}");
    let (_, msg) = read_edited(&sample(1, 1, 2, 2), |c| {
        c.metadata.insert("causal".into(), "maybe".into());
    });
    assert!(msg.contains("causal") && msg.contains("maybe"), "{msg}");
    let (_, msg) = read_edited(&sample(1, 1, 2, 2), |c| {
        c.metadata.insert("prompt_tokens".into(), "3".into());
    });
    assert!(
        msg.contains("prompt_tokens") && msg.contains("only 2 tokens"),
        "{msg}"
    );
}

#[test]
fn non_finite_values_are_rejected() {
    let mut v = sample(1, 1, 2, 2);
    v.layers[0].k[[0, 1, 1]] = f32::NAN;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nan.safetensors");
    let e = write_values(&p, &v).unwrap_err();
    assert!(
        e.to_string().contains("layers.0.k") && e.to_string().contains("non-finite"),
        "{e}"
    );
    assert!(!p.exists());
    let (_, msg) = read_edited(&sample(1, 1, 2, 2), |c| {
        let t = c.tensors.get_mut("layers.0.k").unwrap();
        t.data[12..16].copy_from_slice(&f32::INFINITY.to_le_bytes());
    });
    assert!(
        msg.contains("layers.0.k") && msg.contains("non-finite value at flat index 3"),
        "{msg}"
    );
}

#[test]
fn missing_and_truncated_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.safetensors");
    let e = read_values(&missing).unwrap_err();
    assert!(matches!(e, TraceError::Io { .. }));
    assert!(e.to_string().contains("nope.safetensors"));

    let p = dir.path().join("cut.safetensors");
    write_values(&p, &sample(2, 2, 3, 4)).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    for cut in [0, 5, 20, bytes.len() - 1] {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = read_values(&p).unwrap_err();
        assert!(matches!(e, TraceError::Container { .. }), "cut {cut}: {e}");
        assert!(e.to_string().contains("cut.safetensors"));
    }
    std::fs::write(&p, b"\x10\0\0\0\0\0\0\0not json at all!").unwrap();
    assert!(matches!(
        read_values(&p).unwrap_err(),
        TraceError::Container { .. }
    ));
}

#[test]
fn failed_write_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no-such-dir").join("v.safetensors");
    assert!(matches!(
        write_values(&p, &sample(1, 1, 2, 2)),
        Err(TraceError::Io { .. })
    ));
    assert!(!p.exists());
    let empty = ValueTensors {
        layers: vec![],
        ..sample(1, 1, 2, 2)
    };
    let q = dir.path().join("empty.safetensors");
    assert!(matches!(
        write_values(&q, &empty),
        Err(TraceError::Unwritable { .. })
    ));
    assert!(!Path::new(&q).exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use spatten::trace::values_file::{decode_values, encode_values};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Flipped bytes anywhere in a valid file: an error or a value set, never a panic.
        #[test]
        fn corrupted_bytes_never_panic(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let p = Path::new("fuzz.safetensors");
            let mut bytes = container::encode(&encode_values(p, &sample(2, 2, 3, 4)).unwrap());
            for (i, b) in flips {
                let at = i.index(bytes.len());
                bytes[at] ^= b | 1;
            }
            if let Ok(c) = container::decode(p, &bytes) {
                let _ = decode_values(p, &c);
            }
        }
    }
}
