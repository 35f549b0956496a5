//! Golden vectors: written files re-read and recomputed by the reference; corruption and bad
//! arguments are typed errors; output is deterministic.

use std::fs;

use spatten::reference::ReferenceError;
use spatten::reference::golden::{MODULES, verify, write};

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
    fs::write(&p, lines.join("\n")).unwrap();
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
