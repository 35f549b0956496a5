//! Exactness of the native DRAM model against golden results captured before its speed-ups:
//! for every preset and policy variant and a set of varied request streams, the full
//! `DramStats`, the completion order and the issued command log must be unchanged.
//!
//! The logs and completion lists are stored as a count and a SHA-256 of their JSON (the full
//! logs would be megabytes); the statistics are stored field by field. Regenerate (only after
//! an intended behaviour change) with
//! `SPATTEN_UPDATE_GOLDEN=1 cargo test --release --test hbm_golden`.

mod common;
mod hbm_common;

use std::collections::BTreeMap;

use hbm_common::{
    Req, drive, per_bank_refresh, preset_variants, random, sequential, spatten_like, strided,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spatten::config::HbmConfig;
use spatten::dram::hbm::{HbmDram, load_dram_preset};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/dram/native.json");

fn configs() -> Vec<(String, HbmConfig)> {
    let mut out = preset_variants();
    // Several ranks (rank-to-rank delays, refresh in turn) and more than 64 bank queues (the
    // scheduler's path without bit masks).
    let ddr = load_dram_preset("ddr4-3200-x64").unwrap();
    for ranks in [2u32, 8] {
        let mut h = ddr.clone();
        h.ranks = ranks;
        out.push((format!("ddr4-3200-x64 {ranks} ranks"), h.clone()));
        out.push((
            format!("ddr4-3200-x64 {ranks} ranks per-bank refresh"),
            per_bank_refresh(&h),
        ));
    }
    let mut single = load_dram_preset("hbm2-2gbps").unwrap();
    single.dual_command_issue = false;
    out.push(("hbm2-2gbps single issue".into(), single));
    out
}

fn streams(h: &HbmConfig) -> Vec<(&'static str, Vec<Req>, u64)> {
    let b = h.burst_bytes() as u64;
    let mut mixed = random(3000, b, 1 << 22, 35, 7);
    mixed.extend(sequential(2000, b));
    mixed.extend(random(2000, b, 1 << 30, 20, 8));
    vec![
        ("sequential", sequential(6000, b), 0),
        ("strided 4 KiB", strided(3000, 4096), 0),
        ("random reads", random(3000, b, 1 << 30, 0, 1), 0),
        // Few distinct addresses: merging writes, forwarded and riding reads.
        ("random mixed narrow", random(4000, b, 1 << 14, 40, 2), 0),
        ("mixed with idle gaps", mixed, 1500),
        ("spatten-like", spatten_like(4, 300, 128, b, 3), 0),
    ]
}

fn sha(v: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(v).unwrap();
    format!("{:x}", Sha256::digest(&bytes))
}

fn capture() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (cname, h) in configs() {
        for (sname, reqs, gap) in streams(&h) {
            for skip in [true, false] {
                // Stepping every cycle is slow; once per config on the shortest stream is
                // enough to pin down that skipping changes nothing.
                if !skip && sname != "strided 4 KiB" {
                    continue;
                }
                let mut d = HbmDram::new(&h, h.burst_bytes()).unwrap();
                d.record_commands();
                let r = drive(&mut d, &reqs, skip, gap);
                let log = d.command_log().unwrap();
                let key = format!("{cname} / {sname}{}", if skip { "" } else { " / ticked" });
                out.insert(
                    key,
                    json!({
                        "cycles": r.cycles,
                        "stats": serde_json::to_value(&r.stats).unwrap(),
                        "completions": r.done.len(),
                        "completions_sha256": sha(&r.done),
                        "commands": log.len(),
                        "commands_sha256": sha(&log),
                    }),
                );
            }
        }
    }
    out
}

#[test]
fn native_model_matches_the_golden_results() {
    let now = capture();
    if std::env::var("SPATTEN_UPDATE_GOLDEN").is_ok_and(|v| !v.is_empty()) {
        let text = serde_json::to_string_pretty(&now).unwrap() + "\n";
        std::fs::create_dir_all(std::path::Path::new(GOLDEN).parent().unwrap()).unwrap();
        std::fs::write(GOLDEN, text).unwrap();
    }
    let golden: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(GOLDEN).expect("golden file")).unwrap();
    let mut bad = Vec::new();
    for (k, g) in &golden {
        match now.get(k) {
            Some(a) => common::golden_diff(k, g, a, true, &mut bad),
            None => bad.push(format!("{k}: run missing now")),
        }
    }
    for k in now.keys().filter(|k| !golden.contains_key(*k)) {
        bad.push(format!("{k}: run not in the golden file"));
    }
    assert!(
        bad.is_empty(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
