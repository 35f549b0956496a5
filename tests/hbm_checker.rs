//! The legality checker: random streams on every preset and policy produce no violation,
//! and corrupted logs are caught.

mod hbm_common;

use hbm_common::{drive, preset_variants, random, sequential};
use spatten::config::HbmConfig;
use spatten::config::hbm::{PagePolicy, RefreshPolicy};
use spatten::dram::checker::check_commands;
use spatten::dram::command_log::{Command, CommandKind};
use spatten::dram::hbm::{HbmDram, load_dram_preset};

fn logged_run(h: &HbmConfig, seed: u64) -> Vec<Command> {
    let b = h.burst_bytes() as u64;
    let mut reqs = random(8000, b, 1 << 22, 35, seed);
    reqs.extend(sequential(6000, b));
    reqs.extend(random(4000, b, 1 << 30, 20, seed + 1));
    let mut d = HbmDram::new(h, h.burst_bytes()).unwrap();
    d.record_commands();
    // Idle gaps make the run long enough for many refreshes.
    let r = drive(&mut d, &reqs, true, 2000);
    assert_eq!(r.done.len(), reqs.len());
    d.command_log().unwrap().to_vec()
}

#[test]
fn random_streams_are_legal() {
    for (name, h) in preset_variants() {
        let log = logged_run(&h, 21);
        let kinds = |k: CommandKind| log.iter().filter(|c| c.kind == k).count();
        assert!(kinds(CommandKind::Activate) > 100, "{name}");
        if h.refresh == RefreshPolicy::AllBank {
            assert!(kinds(CommandKind::Refresh) > 10, "{name}");
        } else {
            assert!(kinds(CommandKind::RefreshBank) > 10, "{name}");
        }
        if h.page_policy == PagePolicy::Closed {
            assert!(
                kinds(CommandKind::ReadAp) > 0 && kinds(CommandKind::WriteAp) > 0,
                "{name}"
            );
        }
        let v = check_commands(&h, &log);
        assert!(
            v.is_empty(),
            "{name}: {} violations, first {:?}",
            v.len(),
            v.first()
        );
    }
}

#[test]
fn corrupted_logs_are_caught() {
    let h = load_dram_preset("hbm2-8gb-dramsim3").unwrap();
    let log = logged_run(&h, 5);
    assert!(check_commands(&h, &log).is_empty());
    let same_bank = |a: &Command, b: &Command| {
        (a.channel, a.rank, a.bank_group, a.bank) == (b.channel, b.rank, b.bank_group, b.bank)
    };

    // A read pulled one cycle closer to its activation breaks tRCD.
    let (i, j) = (0..log.len())
        .find_map(|j| {
            let c = &log[j];
            if c.kind != CommandKind::Read {
                return None;
            }
            let i = (0..j)
                .rev()
                .find(|&i| same_bank(&log[i], c) && log[i].kind == CommandKind::Activate)?;
            (c.cycle == log[i].cycle + h.timing.trcd as u64).then_some((i, j))
        })
        .expect("a read issued exactly tRCD after its activation");
    let mut bad = log.clone();
    bad[j].cycle = log[i].cycle + h.timing.trcd as u64 - 1;
    // Keep the log in issue order.
    bad.sort_by_key(|c| (c.channel, c.cycle));
    let v = check_commands(&h, &bad);
    assert!(v.iter().any(|v| v.rule.starts_with("tRCD")), "{v:?}");

    // A dropped precharge leaves the next activation hitting an open bank.
    let p = log
        .iter()
        .position(|c| c.kind == CommandKind::Precharge)
        .unwrap();
    let mut bad = log.clone();
    bad.remove(p);
    let v = check_commands(&h, &bad);
    assert!(
        v.iter()
            .any(|v| v.rule == "ACT to an open bank" || v.rule.contains("wrong row")),
        "{v:?}"
    );

    // Dropping every refresh of channel 0 breaks the refresh interval.
    let bad: Vec<Command> = log
        .iter()
        .copied()
        .filter(|c| !(c.channel == 0 && c.kind == CommandKind::Refresh))
        .collect();
    let v = check_commands(&h, &bad);
    assert!(v.iter().any(|v| v.rule == "refresh interval"), "{v:?}");

    // Two activations in one cycle on one channel overload the row command bus.
    let a = log
        .iter()
        .position(|c| c.kind == CommandKind::Activate)
        .unwrap();
    let mut bad = log.clone();
    let mut twin = bad[a];
    twin.bank = (twin.bank + 1) % h.banks_per_group;
    bad.insert(a + 1, twin);
    let v = check_commands(&h, &bad);
    assert!(v.iter().any(|v| v.rule == "command bus"), "{v:?}");

    // Shrinking tFAW in the checker's view is not a corruption; tightening it must be caught
    // when the schedule packs four activations: replay with a larger tFAW.
    let mut strict = h.clone();
    strict.timing.tfaw = 200;
    let v = check_commands(&strict, &log);
    assert!(
        v.iter().any(|v| v.rule == "tFAW"),
        "a 200-cycle tFAW should be violated"
    );

    // Likewise the closed-bank rules of activations and refreshes.
    for (rule, tighten) in [
        (
            "tRP (PRE->ACT)",
            (|t| t.trp = 400) as fn(&mut spatten::config::hbm::HbmTiming),
        ),
        ("tRC (ACT->ACT same bank)", |t| t.trc = 2000),
        ("tRC (ACT->REF)", |t| t.trc = 2000),
        ("tRFC (REF->ACT)", |t| t.trfc = 1000),
    ] {
        let mut strict = h.clone();
        tighten(&mut strict.timing);
        let v = check_commands(&strict, &log);
        assert!(
            v.iter().any(|v| v.rule == rule),
            "{rule} should be violated"
        );
    }
}
