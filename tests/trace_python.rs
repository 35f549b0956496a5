//! scripts/capture_values.py: compiles, and its torch-free part (head split, fused-QKV split,
//! value file writer) produces files the Rust reader accepts with the documented layout.
//! Needs python3 with numpy and safetensors (not torch). Without them the tests say so and
//! pass, unless SPATTEN_REQUIRE_PYTHON is set (CI sets it, after installing both);
//! SPATTEN_SKIP_PYTHON=1 skips them outright.

mod common;

use spatten::trace::read_values;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/capture_values.py");

fn python(code: &str) -> Option<String> {
    common::python(code, &["numpy", "safetensors"])
}

#[test]
fn script_compiles() {
    python(&format!(
        "import py_compile, os, tempfile; py_compile.compile({SCRIPT:?}, \
         cfile=os.path.join(tempfile.mkdtemp(), 'c.pyc'), doraise=True)"
    ));
}

/// x[t, c] = 0.5 * (t * width + c) - 3, the array the Python side splits.
fn x(t: usize, c: usize, width: usize) -> f32 {
    0.5 * (t * width + c) as f32 - 3.0
}

#[test]
fn writer_output_reads_back_with_the_documented_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (sep, fused) = (dir.path().join("sep.st"), dir.path().join("fused.st"));
    let (tokens, heads, dim) = (5usize, 3usize, 4usize);
    let hidden = heads * dim;
    let code = format!(
        "import sys; sys.path.insert(0, 'scripts'); import numpy as np; import capture_values as c\n\
         def x(w): return (np.arange({tokens} * w, dtype=np.float64).reshape({tokens}, w) * 0.5 - 3).astype(np.float32)\n\
         a = c.split_heads(x({hidden}), {heads})\n\
         c.write_values({sep:?}, [(a, a + 1, a + 2), (a * 2, a, a)], 'bert-x', 'doc.txt', {tokens}, False)\n\
         c.write_values({fused:?}, [c.split_fused_qkv(x(3 * {hidden}), {heads})], 'gpt-x', 'g.txt', 2, True)\n\
         try:\n    c.split_heads(x(10), 3)\nexcept ValueError as e:\n    print('refused:', e)\n"
    );
    let Some(printed) = python(&code) else {
        return;
    };
    assert!(printed.contains("not a multiple of 3 heads"), "{printed}");

    let v = read_values(&sep).unwrap();
    assert_eq!(
        (v.meta.model.as_str(), v.meta.source.as_str()),
        ("bert-x", "doc.txt")
    );
    assert_eq!(
        (v.meta.prompt_tokens, v.meta.causal),
        (tokens as u32, false)
    );
    assert_eq!(v.layers.len(), 2);
    assert_eq!(v.layers[0].q.shape(), &[heads, tokens, dim]);
    for h in 0..heads {
        for t in 0..tokens {
            for d in 0..dim {
                let want = x(t, h * dim + d, hidden);
                assert_eq!(v.layers[0].q[[h, t, d]], want);
                assert_eq!(v.layers[0].v[[h, t, d]], want + 2.0);
                assert_eq!(v.layers[1].q[[h, t, d]], want * 2.0);
            }
        }
    }

    let f = read_values(&fused).unwrap();
    assert_eq!((f.meta.prompt_tokens, f.meta.causal), (2, true));
    for h in 0..heads {
        for t in 0..tokens {
            for d in 0..dim {
                let c = h * dim + d;
                assert_eq!(f.layers[0].q[[h, t, d]], x(t, c, 3 * hidden));
                assert_eq!(f.layers[0].k[[h, t, d]], x(t, hidden + c, 3 * hidden));
                assert_eq!(f.layers[0].v[[h, t, d]], x(t, 2 * hidden + c, 3 * hidden));
            }
        }
    }
    // Only the two value files: no temporary file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}
