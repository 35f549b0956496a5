//! Turns a pipeline that stopped making progress into an error naming the waiting modules
//! and the state of every FIFO that holds or expects data.

use super::error::SimError;
use super::machine::{MODULES, Machine};
use super::stats::Activity;

pub fn stalled(m: &Machine, now: u64, idle_cycles: u64, acts: &[Activity]) -> SimError {
    let stuck: Vec<String> = MODULES
        .iter()
        .zip(acts)
        .filter(|(_, a)| matches!(a, Activity::StalledInput | Activity::StalledOutput))
        .map(|(n, a)| {
            let what = if *a == Activity::StalledInput {
                "waiting for input"
            } else {
                "blocked on output"
            };
            format!("{n} ({what})")
        })
        .collect();
    let mut fifos: Vec<String> = m.fifos().iter().map(|f| f.describe()).collect();
    for f in &m.fetcher.addr_fifos {
        if !f.is_empty() {
            fifos.push(f.describe());
        }
    }
    for f in &m.fetcher.data_fifos {
        if !f.is_empty() || f.reserved() > 0 {
            fifos.push(f.describe());
        }
    }
    let mut report = m.describe_modules();
    report.push(format!("FIFOs: {}", fifos.join(", ")));
    SimError::Stalled {
        cycle: now,
        idle_cycles,
        stuck: if stuck.is_empty() {
            "no module reports a stall (all idle)".into()
        } else {
            stuck.join(", ")
        },
        report: report.join("; "),
    }
}
