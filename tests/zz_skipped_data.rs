//! Runs last (test binaries run in name order): one line saying which tests were skipped for
//! missing external data, what each needs and how to get it. The tests themselves are marked
//! `#[cfg_attr(not(data_...), ignore = ...)]` (build.rs sets the cfgs), so the harness reports
//! them as ignored, never as passed. With `SPATTEN_REQUIRE_DATA` set (CI), a skip is a failure.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use spatten::data_dir::{DATA_ENV, Dataset, data_root};

/// `(test file, test name, data sets it needs)` for every data-gated test in tests/.
fn gated_tests() -> Vec<(String, String, Vec<Dataset>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !p.ends_with("zz_skipped_data.rs"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&file).unwrap();
        // `#[cfg_attr(not(data_x), ignore = ...)]` or `not(all(data_x, data_y))`, on one line
        // or spread over several by rustfmt.
        for (at, _) in src.match_indices("#[cfg_attr(") {
            let rest = &src[at + "#[cfg_attr(".len()..];
            let Some(end) = rest.find(")]") else { continue };
            let attr: String = rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
            let Some(cond) = attr
                .strip_prefix("not(")
                .and_then(|a| a.split_once("), ignore"))
                .map(|(c, _)| c)
            else {
                continue;
            };
            let needs: Vec<Dataset> = cond
                .trim_start_matches("all(")
                .trim_end_matches(')')
                .split(',')
                .map(|name| {
                    let name = name.trim();
                    *Dataset::ALL
                        .iter()
                        .find(|d| d.cfg_name() == name)
                        .unwrap_or_else(|| panic!("{stem}: unknown data cfg {name:?}"))
                })
                .collect();
            let name = rest[end..]
                .split_once("fn ")
                .and_then(|(_, l)| l.split('(').next())
                .unwrap_or_else(|| panic!("{stem}: no fn after a data cfg_attr"));
            out.push((stem.clone(), name.trim().to_string(), needs));
        }
    }
    out
}

/// Whether `build.rs` saw the data set when it compiled the tests.
fn built_with(d: Dataset) -> bool {
    match d {
        Dataset::MiniLm => cfg!(data_minilm),
        Dataset::StsbDev => cfg!(data_stsb),
        Dataset::SpattenTraces => cfg!(data_spatten_traces),
        Dataset::Wikitext2 => cfg!(data_wikitext2),
    }
}

#[test]
fn skipped_data_summary() {
    let gated = gated_tests();
    assert!(!gated.is_empty(), "no data-gated tests found in tests/");
    for d in Dataset::ALL {
        assert_eq!(
            built_with(d),
            d.is_present(),
            "{} changed since the tests were built; rebuild",
            d.description()
        );
    }
    let skipped: Vec<_> = gated
        .iter()
        .filter(|(_, _, needs)| needs.iter().any(|d| !built_with(*d)))
        .collect();
    let line = if skipped.is_empty() {
        format!(
            "data: all {} data-dependent tests ran (data root {})",
            gated.len(),
            data_root().display()
        )
    } else {
        let mut by_data: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for (_, _, needs) in &skipped {
            for d in needs.iter().filter(|d| !built_with(**d)) {
                by_data
                    .entry(d.description())
                    .or_insert((0, d.how_to_get()))
                    .0 += 1;
            }
        }
        let parts: Vec<String> = by_data
            .iter()
            .map(|(what, (n, how))| format!("{n} need {what} ({how})"))
            .collect();
        format!(
            "data: SKIPPED {} of {} data-dependent tests (ignored, not passed; data root {}, \
             set {DATA_ENV} to change it): {}",
            skipped.len(),
            gated.len(),
            data_root().display(),
            parts.join("; ")
        )
    };
    // Straight to the terminal: the harness captures print! output of passing tests.
    let _ = writeln!(std::io::stderr(), "\n{line}\n");
    if std::env::var_os("SPATTEN_REQUIRE_DATA").is_some() {
        let names: Vec<String> = skipped
            .iter()
            .map(|(f, n, _)| format!("{f}::{n}"))
            .collect();
        assert!(
            names.is_empty(),
            "SPATTEN_REQUIRE_DATA is set but these tests were skipped: {}",
            names.join(", ")
        );
    }
}
