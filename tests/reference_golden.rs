//! Golden vectors: written files re-read and recomputed by the reference; corruption, a
//! missing final newline, a stale sha256 and bad arguments are typed errors; output is
//! deterministic; the set shipped for the RTL testbenches (rtl/vectors) is what the writer
//! writes; `--topk-cycles` prints the cycle simulator's top-k cost of every vector.

mod common;

use std::fs;
use std::path::Path;

use spatten::reference::ReferenceError;
use spatten::reference::golden::{MODULES, topk_vectors, verify, write};

#[test]
fn written_vectors_reread_and_match_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("golden");
    let m = write(&out, &[], 6, 3).unwrap();
    assert_eq!(m.modules.len(), MODULES.len());
    let report = verify(&out).unwrap();
    assert_eq!(report.len(), MODULES.len());
    assert!(report.iter().all(|(_, n)| *n == 6));
    assert!(out.join("README.md").is_file());
    // Every file listed exists with the right number of lines.
    for module in &m.modules {
        for f in &module.files {
            let text = fs::read_to_string(out.join(&f.file)).unwrap();
            assert_eq!(
                text.lines().count(),
                f.shape.iter().product::<usize>(),
                "{}",
                f.file
            );
            let digits = f.bits.div_ceil(4) as usize;
            assert!(text.lines().all(|l| l.len() == digits), "{}", f.file);
        }
    }
    // Rewriting replaces the directory; same seed gives the same bytes.
    let a = fs::read(out.join("softmax/prob.hex")).unwrap();
    write(&out, &["softmax".to_string()], 6, 3).unwrap();
    assert_eq!(fs::read(out.join("softmax/prob.hex")).unwrap(), a);
    assert!(!out.join("qk").exists());
    // No temporary directories are left behind.
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn a_corrupted_expected_value_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g");
    write(&out, &["topk".into(), "pv".into()], 4, 9).unwrap();
    let p = out.join("pv/out.hex");
    let text = fs::read_to_string(&p).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let v = u32::from_str_radix(&lines[70], 16).unwrap();
    lines[70] = format!("{:03x}", (v + 1) & 0xfff);
    fs::write(&p, lines.join("\n") + "\n").unwrap();
    let e = verify(&out).unwrap_err();
    assert!(
        e.to_string().contains("module pv: out differs") && e.to_string().contains("vector 1"),
        "{e}"
    );
    // A truncated file is reported with its name.
    fs::write(out.join("topk/k.hex"), "05\n").unwrap();
    let e = verify(&out).unwrap_err();
    assert!(e.to_string().contains("k.hex: 1 values"), "{e}");
}

#[test]
fn bad_arguments_are_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let e = write(&tmp.path().join("x"), &["fft".into()], 4, 1).unwrap_err();
    assert!(matches!(e, ReferenceError::Golden(ref s) if s.contains("unknown module \"fft\"")));
    assert!(write(&tmp.path().join("x"), &[], 0, 1).is_err());
    assert!(!tmp.path().join("x").exists());
}

#[test]
fn a_missing_final_newline_and_a_stale_sha256_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g");
    write(&out, &["requant".into()], 3, 2).unwrap();
    let p = out.join("requant/max.hex");
    let text = fs::read_to_string(&p).unwrap();
    fs::write(&p, text.trim_end()).unwrap();
    let e = verify(&out).unwrap_err().to_string();
    assert!(e.contains("max.hex:3: the last line has no newline"), "{e}");
    // The right bytes again, but the manifest's sum of another file changed.
    fs::write(&p, &text).unwrap();
    verify(&out).unwrap();
    let mp = out.join("manifest.json");
    let manifest = fs::read_to_string(&mp).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    json["modules"][0]["files"][1]["sha256"] = "00".repeat(32).into();
    fs::write(&mp, serde_json::to_string(&json).unwrap()).unwrap();
    let e = verify(&out).unwrap_err().to_string();
    assert!(
        e.contains("threshold.hex: sha256") && e.contains("differs from the manifest's 0000"),
        "{e}"
    );
    // A line of the wrong width and an older manifest are named as such.
    fs::write(&mp, &manifest).unwrap();
    fs::write(&p, text.replacen('\n', "0\n", 1)).unwrap();
    let e = verify(&out).unwrap_err().to_string();
    assert!(
        e.contains("max.hex:1:") && e.contains("is not 3 lowercase hex digits"),
        "{e}"
    );
    fs::write(
        &mp,
        manifest.replacen("\"format_version\": 2", "\"format_version\": 1", 1),
    )
    .unwrap();
    let e = verify(&out).unwrap_err().to_string();
    assert!(e.contains("format_version 1 (this build reads 2"), "{e}");
}

#[test]
fn every_file_has_a_format_words_and_sha256() {
    let tmp = tempfile::tempdir().unwrap();
    let m = write(&tmp.path().join("g"), &[], 2, 5).unwrap();
    for f in m.modules.iter().flat_map(|m| &m.files) {
        assert!(!f.format.is_empty(), "{}", f.file);
        assert_eq!(f.words, f.shape.iter().product::<usize>(), "{}", f.file);
        assert_eq!(f.sha256.len(), 64, "{}", f.file);
        let bytes = fs::read(tmp.path().join("g").join(&f.file)).unwrap();
        assert!(bytes.ends_with(b"\n"), "{}", f.file);
    }
}

/// rtl/vectors is `spatten golden --out rtl/vectors` (16 vectors, seed 1): regenerate it
/// with that command when the reference changes on purpose.
#[test]
fn the_shipped_rtl_vectors_are_what_the_writer_writes() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl/vectors");
    let report = verify(&shipped).unwrap();
    assert_eq!(report.len(), MODULES.len());
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("g");
    let m = write(&fresh, &[], 16, 1).unwrap();
    let mut names = vec!["manifest.json".to_string(), "README.md".to_string()];
    names.extend(
        m.modules
            .iter()
            .flat_map(|m| m.files.iter().map(|f| f.file.clone())),
    );
    for name in names {
        let a = fs::read(shipped.join(&name)).unwrap();
        assert!(
            a == fs::read(fresh.join(&name)).unwrap(),
            "rtl/vectors/{name} is stale"
        );
    }
}

#[test]
fn topk_cycles_are_the_simulator_cost_of_each_vector() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl/vectors");
    let vectors = topk_vectors(&shipped).unwrap();
    assert_eq!(vectors.len(), 16);
    let (code, out, err) = common::spatten(&["golden", "--topk-cycles", "rtl/vectors"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), vectors.len());
    // The spatten preset's local-V engine: 16 comparators, 3 + 3 overhead cycles.
    for (v, line) in vectors.iter().zip(lines) {
        assert_eq!(v.n, 64);
        assert!(!v.rounds.is_empty() && v.rounds[0] == 64, "{v:?}");
        let want: u32 =
            v.rounds.iter().map(|r| r.div_ceil(16) + 3).sum::<u32>() + v.n.div_ceil(16) + 3;
        assert_eq!(u32::from_str_radix(line, 16).unwrap(), want, "{v:?}");
    }
    // A directory without a manifest is an error naming it, exit code 2.
    let (code, _, err) = common::spatten(&["golden", "--topk-cycles", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/dir/manifest.json"), "{err}");
}
