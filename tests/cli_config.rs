//! `spatten config` end to end: exit codes and messages a user sees.

mod common;

use common::spatten;

#[test]
fn check_accepts_every_shipped_file() {
    let (code, out, err) = spatten(&[
        "config",
        "check",
        "arch/spatten.toml",
        "arch/spatten-1-8.toml",
        "workloads/bert-base.toml",
        "workloads/bert-large.toml",
        "workloads/gpt2-small.toml",
        "workloads/gpt2-medium.toml",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok: ")).count(),
        6,
        "{out}"
    );
}

#[test]
fn check_rejects_a_bad_file_with_exit_2_and_a_located_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "base = \"gpt2-small\"\n[quant]\nmsb_bits = 7\n").unwrap();
    let (code, out, err) = spatten(&[
        "config",
        "check",
        "arch/spatten.toml",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("ok: arch/spatten.toml"), "{out}");
    assert!(
        err.contains("bad.toml:3: key `quant.msb_bits`: must be one of [4, 6, 8, 10, 12] (got 7)"),
        "{err}"
    );
}

#[test]
fn missing_files_and_unknown_presets_exit_2() {
    let (code, _, err) = spatten(&["config", "show", "no-such-preset"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no such file and no architecture preset"),
        "{err}"
    );
    let (code, _, err) = spatten(&["config", "check", "missing/dir/x.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn show_prints_the_resolved_config_that_loads_back() {
    let (code, out, err) = spatten(&["config", "show", "spatten-1-8"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("channels = 2"));
    assert!(out.contains("[softmax]"), "base tables are applied: {out}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("shown.toml");
    std::fs::write(&f, &out).unwrap();
    let (code, _, err) = spatten(&["config", "check", "--kind", "arch", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn list_names_every_preset() {
    let (code, out, _) = spatten(&["config", "list"]);
    assert_eq!(code, 0);
    for name in [
        "spatten",
        "spatten-1-8",
        "bert-base",
        "bert-large",
        "gpt2-small",
        "gpt2-medium",
        "spatten-long-context",
    ] {
        assert!(out.contains(name), "{name} missing from {out}");
    }
    // Grouped K/V heads and a cached prompt are part of a workload's one-line description.
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("llama-3.1-8b-128k-decode "))
        .unwrap_or_else(|| panic!("no llama-3.1-8b-128k-decode line in {out}"));
    assert!(line.contains("32 heads (8 K/V)"), "{line}");
    assert!(
        line.ends_with("131071 + 1 tokens (prompt cached)"),
        "{line}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, _) = spatten(&["config", "frobnicate"]);
    assert_eq!(code, 2);
}

// ---- Name resolution and checks that must not be fooled (issue 23) ----

use common::spatten_in;

#[test]
fn a_file_in_the_current_folder_never_shadows_a_preset() {
    let dir = tempfile::tempdir().unwrap();
    // A stray file named like a preset, and one named like the binary's default arch.
    std::fs::write(dir.path().join("gpt2-small"), "not toml at all").unwrap();
    std::fs::write(dir.path().join("spatten"), "\x7fELF binary").unwrap();
    let (code, out, err) = spatten_in(&["config", "show", "gpt2-small"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("gpt2-small"), "{out}");
    let (code, _, err) = spatten_in(&["config", "check", "spatten"], dir.path());
    assert_eq!(code, 0, "{err}");
    // A path still means the file.
    let (code, _, err) = spatten_in(&["config", "check", "./gpt2-small"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("gpt2-small"), "{err}");
}

#[test]
fn a_bad_base_names_the_file_that_referenced_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::write(dir.path().join("mine.toml"), "# mine\nbase = \"./junk\"\n").unwrap();
    let (code, _, err) = spatten_in(&["config", "check", "mine.toml"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junk:1"), "{err}");
    assert!(err.contains("base of mine.toml:2"), "{err}");
}

#[test]
fn huge_timings_do_not_wrap_the_trc_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "base = \"spatten\"\n[hbm.timing]\ntras = 4294967295\n",
    )
    .unwrap();
    let (code, _, err) = spatten_in(&["config", "check", "a.toml"], dir.path());
    assert_eq!(code, 2, "{err}");
    // Refused by the range bound on tras (before the trc >= tras + trp check, which is done in
    // u64 so it cannot wrap either).
    assert!(err.contains("hbm.timing.tras"), "{err}");
    assert!(err.contains("4294967295"), "{err}");
}
