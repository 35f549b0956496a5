//! Cross-check of the native model against DRAMsim3 (cargo feature `dramsim3`; needs cmake).
//! The same request streams, issued the same way into both back-ends configured alike, must
//! give total cycles within 3 % and row-hit rates within 3 percentage points.
#![cfg(feature = "dramsim3")]

mod hbm_common;

use hbm_common::{Req, drive, random, sequential, strided};
use spatten::config::HbmConfig;
use spatten::dram::dramsim3::Dramsim3Dram;
use spatten::dram::hbm::{HbmDram, load_dram_preset};

struct Pair {
    native_cycles: u64,
    ds3_cycles: u64,
    native_hit: f64,
    ds3_hit: f64,
}

fn compare(h: &HbmConfig, reqs: &[Req]) -> Pair {
    let bytes = h.burst_bytes();
    let mut n = HbmDram::new(h, bytes).unwrap();
    let rn = drive(&mut n, reqs, true, 0);
    let mut d = Dramsim3Dram::new(h, bytes).unwrap();
    let rd = drive(&mut d, reqs, false, 0);
    assert_eq!(rn.done.len(), reqs.len());
    assert_eq!(rd.done.len(), reqs.len());
    let ds = d.finish().unwrap();
    let hit = |hits: u64, cols: u64| hits as f64 / cols.max(1) as f64;
    let ns = &rn.stats;
    Pair {
        native_cycles: rn.cycles,
        ds3_cycles: rd.cycles,
        native_hit: hit(ns.row_hits, ns.row_hits + ns.row_misses + ns.row_conflicts),
        ds3_hit: hit(ds.row_hits, ds.row_hits + ds.row_misses),
    }
}

fn check(name: &str, h: &HbmConfig, reqs: &[Req]) {
    let p = compare(h, reqs);
    let dc = p.native_cycles as f64 / p.ds3_cycles as f64 - 1.0;
    let dh = p.native_hit - p.ds3_hit;
    println!(
        "{name}: cycles native {} dramsim3 {} ({:+.2} %), row-hit rate native {:.4} dramsim3 {:.4} ({:+.2} pp)",
        p.native_cycles,
        p.ds3_cycles,
        100.0 * dc,
        p.native_hit,
        p.ds3_hit,
        100.0 * dh
    );
    assert!(
        dc.abs() <= 0.03,
        "{name}: total cycles differ by {:.2} %",
        100.0 * dc
    );
    assert!(
        dh.abs() <= 0.03,
        "{name}: row-hit rates differ by {:.2} points",
        100.0 * dh
    );
}

fn hbm2() -> HbmConfig {
    load_dram_preset("hbm2-8gb-dramsim3").unwrap()
}

#[test]
fn sequential_reads_match_dramsim3() {
    check("sequential", &hbm2(), &sequential(60_000, 64));
}

#[test]
fn strided_reads_match_dramsim3() {
    // 2 KB + 64 B: every request moves to another row / bank.
    check("strided 2112 B", &hbm2(), &strided(30_000, 2048 + 64));
    check("strided 256 B", &hbm2(), &strided(30_000, 256));
}

#[test]
fn random_reads_match_dramsim3() {
    check("random 1 GiB", &hbm2(), &random(30_000, 64, 1 << 30, 0, 1));
    check("random 4 MiB", &hbm2(), &random(30_000, 64, 1 << 22, 0, 2));
}

#[test]
fn ddr4_matches_dramsim3() {
    let h = load_dram_preset("ddr4-3200-x64").unwrap();
    check("ddr4 sequential", &h, &sequential(20_000, 64));
    check("ddr4 random", &h, &random(10_000, 64, 1 << 30, 0, 3));
}
