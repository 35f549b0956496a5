//! The tool never destroys a user's files: what `--out` does with existing paths, temporary
//! folders of killed runs, I/O errors that name their path, and `plot` refusing bad inputs
//! before it writes anything.

mod common;

use std::path::Path;

use common::spatten_in as spatten;

/// A small workload so each run takes well under a second.
const TINY: &str = r#"
base = "bert-base"
name = "tiny"
[model]
layers = 2
heads = 4
hidden = 256
[stage]
prompt_tokens = 32
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    dir
}

fn run(cwd: &Path, out: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["run", "--workload", "tiny.toml", "--out", out, "--quiet"];
    args.extend_from_slice(extra);
    spatten(&args, cwd)
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn run_refuses_a_user_folder_and_deletes_nothing() {
    let dir = setup();
    let mine = dir.path().join("mydata");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("thesis.tex"), "my thesis").unwrap();
    let (code, _, err) = run(dir.path(), "mydata", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("mydata") && err.contains("thesis.tex") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(names(&mine), ["thesis.tex"]);
    assert_eq!(
        std::fs::read_to_string(mine.join("thesis.tex")).unwrap(),
        "my thesis"
    );
    assert_eq!(names(dir.path()), ["mydata", "tiny.toml"]);
}

#[test]
fn golden_refuses_a_user_folder_and_deletes_nothing() {
    let dir = setup();
    let mine = dir.path().join("vectors");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let (code, _, err) = spatten(&["golden", "--out", "vectors"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("notes.txt"), "{err}");
    assert_eq!(names(&mine), ["notes.txt"]);
}

#[test]
fn force_writes_beside_user_files_and_replaces_only_its_own() {
    let dir = setup();
    let mine = dir.path().join("mydata");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("thesis.tex"), "my thesis").unwrap();
    for _ in 0..2 {
        let (code, _, err) = run(dir.path(), "mydata", &["--force"]);
        assert_eq!(code, 0, "{err}");
        assert!(mine.join("summary.md").is_file());
        assert_eq!(
            std::fs::read_to_string(mine.join("thesis.tex")).unwrap(),
            "my thesis"
        );
    }
    assert_eq!(names(dir.path()), ["mydata", "tiny.toml"]);
}

#[test]
fn an_existing_file_is_neither_replaced_nor_renamed() {
    let dir = setup();
    std::fs::write(dir.path().join("afile"), "keep me").unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let (code, _, err) = run(dir.path(), "afile", extra);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("afile") && err.contains("is a file"), "{err}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("afile")).unwrap(),
        "keep me"
    );
    assert_eq!(names(dir.path()), ["afile", "tiny.toml"]);
}

#[test]
fn dot_dotdot_and_the_current_folder_are_refused_without_leftovers() {
    let root = tempfile::tempdir().unwrap();
    let cwd = root.path().join("work");
    std::fs::create_dir(&cwd).unwrap();
    std::fs::write(cwd.join("tiny.toml"), TINY).unwrap();
    let absolute = cwd.canonicalize().unwrap();
    for out in [".", "..", absolute.to_str().unwrap(), "../work"] {
        let (code, _, err) = run(&cwd, out, &["--force"]);
        assert_eq!(code, 2, "--out {out}: {err}");
        assert!(err.contains(out), "--out {out}: {err}");
    }
    assert_eq!(names(&cwd), ["tiny.toml"]);
    assert_eq!(names(root.path()), ["work"]);
}

#[test]
fn a_rerun_replaces_its_own_report_and_leaves_no_temporary_folder() {
    let dir = setup();
    for _ in 0..2 {
        let (code, _, err) = run(dir.path(), "r", &[]);
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(names(dir.path()), ["r", "tiny.toml"]);
    let r = dir.path().join("r");
    assert!(r.join("summary.md").is_file() && r.join(".spatten-output").is_file());
    // Another command's output is not replaced silently.
    let (code, _, err) = spatten(&["golden", "--out", "r"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("spatten run"), "{err}");
    assert!(r.join("summary.md").is_file());
}

#[test]
fn temporary_folders_of_killed_runs_are_removed_by_the_next_run() {
    let dir = setup();
    // One left by a process that no longer runs (PIDs above the kernel's limit never do).
    let stale = dir.path().join(".r.spatten-tmp-4999999");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(
        stale.join(".spatten-output"),
        r#"{"tool": "spatten", "kind": "run", "staging": true, "files": []}"#,
    )
    .unwrap();
    std::fs::write(stale.join("stats.json"), "{").unwrap();
    // One a kill left half removed: folders only, no marker.
    std::fs::create_dir_all(dir.path().join(".r.spatten-tmp-4999998/figures")).unwrap();
    let (code, _, err) = run(dir.path(), "r", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("removed") && err.contains("4999999"), "{err}");
    assert_eq!(names(dir.path()), ["r", "tiny.toml"]);
    // And real kills at many moments of a run: the next run leaves nothing behind.
    for delay_ms in [5, 20, 40, 60, 80, 100, 150, 200, 300] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_spatten"))
            .args(["run", "--workload", "tiny.toml", "--out", "r", "--quiet"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let (code, _, err) = run(dir.path(), "r", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(dir.path()), ["r", "tiny.toml"]);
    assert!(dir.path().join("r/summary.md").is_file());
}

#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_out_names_its_path_and_the_os_error_once() {
    let dir = setup();
    let (code, _, err) = run(dir.path(), "/proc/x", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/proc/") && err.contains("staging"), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

#[test]
fn sweep_merge_of_a_missing_folder_says_the_os_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = spatten(&["sweep", "merge", "nowhere", "--out", "m"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nowhere/sweep.json"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

/// Two reports of the tiny run in `dir/a` and `dir/b`.
fn two_reports(dir: &Path) {
    for out in ["a", "b"] {
        let (code, _, err) = run(dir, out, &[]);
        assert_eq!(code, 0, "{err}");
    }
}

fn edit_stats(path: &Path, key: &str, value: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut v = &mut json;
    let parts: Vec<&str> = key.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        v = v.get_mut(*p).unwrap();
    }
    v[parts[parts.len() - 1]] = serde_json::from_str(value).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

#[test]
fn plot_refuses_absurd_numbers_before_writing_any_figure() {
    let dir = setup();
    two_reports(dir.path());
    let stats = dir.path().join("b/stats.json");
    let original = std::fs::read_to_string(&stats).unwrap();
    for (key, value) in [
        ("effective_gops", "1e308"),
        ("seconds", "1e-320"),
        ("energy.total_j", "0.0"),
        ("energy.total_j", "-1.0"),
    ] {
        std::fs::write(&stats, &original).unwrap();
        edit_stats(&stats, key, value);
        let (code, _, err) = spatten(&["plot", "a", "b", "--out", "fig"], dir.path());
        assert_eq!(code, 2, "{key} = {value}: {err}");
        assert!(err.contains("b/stats.json") && err.contains(key), "{err}");
        assert!(!dir.path().join("fig").exists(), "{key}: figures written");
    }
    assert_eq!(names(dir.path()), ["a", "b", "tiny.toml"]);
}

#[test]
fn plot_of_reports_with_different_baselines_draws_the_shared_ones_or_nothing() {
    let dir = setup();
    two_reports(dir.path());
    // Drop the first baseline of report b.
    let csv = dir.path().join("b/baselines.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let dropped = lines.remove(1).split(',').next().unwrap().to_string();
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = spatten(&["plot", "a", "b", "--out", "fig"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("left out") && err.contains(&dropped), "{err}");
    assert!(out.contains("speedup.png"), "{out}");
    // No baseline in common: refused before any figure.
    std::fs::write(&csv, lines[0].to_string() + "\n").unwrap();
    let (code, _, err) = spatten(&["plot", "a", "b", "--out", "fig2"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("share no baseline"), "{err}");
    assert!(!dir.path().join("fig2").exists());
}

#[test]
fn golden_count_is_bounded_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = spatten(
        &["golden", "--out", "g", "--count", "1000000000"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--count") && err.contains("10000"), "{err}");
    assert!(!dir.path().join("g").exists());
}
