//! An independent legality checker: replays a command log and reports every violated DRAM
//! rule. It shares no code with the scheduler: it re-derives each constraint from the JEDEC
//! definitions in `HbmTiming` (command-to-command minimum distances, bank state, the
//! four-activation window, data-bus occupancy and turnaround, command-bus slots, refresh
//! interval), looking back at what was issued rather than forward at what may issue.

use std::collections::HashMap;

use super::command_log::{Command, CommandKind};
use crate::config::HbmConfig;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Index of the offending command in the log.
    pub index: usize,
    pub command: Command,
    pub rule: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
struct BankTrack {
    open_row: Option<u32>,
    last_act: Option<u64>,
    /// When the bank last started precharging (explicit or automatic).
    last_pre: Option<u64>,
    last_rd: Option<u64>,
    last_wr: Option<u64>,
    last_refb: Option<u64>,
}

#[derive(Debug, Clone, Default)]
struct RankTrack {
    acts: Vec<u64>,
    last_ref: Option<u64>,
    /// Last activation / read / write per bank group.
    bg_act: HashMap<u32, (u64, u32)>,
    bg_rd: HashMap<u32, u64>,
    bg_wr: HashMap<u32, u64>,
}

#[derive(Debug, Clone, Default)]
struct ChannelTrack {
    last_cycle: u64,
    /// Commands in `last_cycle`: (row commands, column commands).
    slots: (u32, u32),
    /// Last data burst: (end cycle, rank, is_write).
    last_burst: Option<(u64, u32, bool)>,
}

/// Checks a command log (commands of each channel in issue order). Returns all violations;
/// an empty vector means the schedule is legal.
pub fn check_commands(hbm: &HbmConfig, log: &[Command]) -> Vec<Violation> {
    let t = &hbm.timing;
    let u = |x: u32| x as u64;
    let bc = u((hbm.burst_length / 2).max(1));
    let (cl, cwl) = (u(t.cl), u(t.cwl));
    let mut out = Vec::new();
    let mut banks: HashMap<(u32, u32, u32, u32), BankTrack> = HashMap::new();
    let mut ranks: HashMap<(u32, u32), RankTrack> = HashMap::new();
    let mut chans: HashMap<u32, ChannelTrack> = HashMap::new();
    let mut last_cycle_seen = 0u64;

    for (index, c) in log.iter().enumerate() {
        let now = c.cycle;
        last_cycle_seen = last_cycle_seen.max(now);
        let mut fail = |rule: &'static str, detail: String| {
            out.push(Violation {
                index,
                command: *c,
                rule,
                detail,
            });
        };
        // Command order and command-bus slots.
        let ch = chans.entry(c.channel).or_default();
        if now < ch.last_cycle {
            fail(
                "order",
                format!("issued at {now} after a command at {}", ch.last_cycle),
            );
        }
        if now != ch.last_cycle {
            ch.last_cycle = now;
            ch.slots = (0, 0);
        }
        if c.kind.is_column() {
            ch.slots.1 += 1;
        } else {
            ch.slots.0 += 1;
        }
        let over = if hbm.dual_command_issue {
            ch.slots.0 > 1 || ch.slots.1 > 1
        } else {
            ch.slots.0 + ch.slots.1 > 1
        };
        if over {
            fail(
                "command bus",
                format!("more commands at cycle {now} than the command bus carries"),
            );
        }

        let need = |fail: &mut dyn FnMut(&'static str, String),
                    rule: &'static str,
                    since: Option<u64>,
                    min: u64| {
            if let Some(s) = since
                && now < s + min
            {
                fail(
                    rule,
                    format!("{} cycles after the previous command, needs {min}", now - s),
                );
            }
        };
        // ACT, REF and REFb need a precharged bank: tRP after its PRE, tRC after its ACT and
        // tRFCb after its own refresh (rules named for the command).
        let closed_bank = |fail: &mut dyn FnMut(&'static str, String),
                           b: &BankTrack,
                           [rp, rc, rfcb]: [&'static str; 3]| {
            need(fail, rp, b.last_pre, u(t.trp));
            need(fail, rc, b.last_act, u(t.trc));
            need(fail, rfcb, b.last_refb, u(t.trfcb.unwrap_or(t.trfc)));
        };

        let rank = ranks.entry((c.channel, c.rank)).or_default();
        match c.kind {
            CommandKind::Refresh => {
                for bg in 0..hbm.bank_groups {
                    for ba in 0..hbm.banks_per_group {
                        let b = banks.entry((c.channel, c.rank, bg, ba)).or_default();
                        if b.open_row.is_some() {
                            fail(
                                "REF to a rank with an open bank",
                                format!("bank group {bg} bank {ba} is open"),
                            );
                        }
                        closed_bank(
                            &mut fail,
                            b,
                            ["tRP (PRE->REF)", "tRC (ACT->REF)", "tRFCb (REFb->REF)"],
                        );
                    }
                }
                need(&mut fail, "tRFC (REF->REF)", rank.last_ref, u(t.trfc));
                if let Some(prev) = rank.last_ref
                    && now - prev > 9 * u(t.trefi)
                {
                    fail(
                        "refresh interval",
                        format!("{} cycles since the previous REF (> 9 x tREFI)", now - prev),
                    );
                }
                rank.last_ref = Some(now);
            }
            _ => {
                let key = (c.channel, c.rank, c.bank_group, c.bank);
                let b = banks.entry(key).or_default();
                match c.kind {
                    CommandKind::Activate => {
                        if b.open_row.is_some() {
                            fail("ACT to an open bank", String::new());
                        }
                        closed_bank(
                            &mut fail,
                            b,
                            [
                                "tRP (PRE->ACT)",
                                "tRC (ACT->ACT same bank)",
                                "tRFCb (REFb->ACT)",
                            ],
                        );
                        need(&mut fail, "tRFC (REF->ACT)", rank.last_ref, u(t.trfc));
                        for (&bg, &(at, bank)) in &rank.bg_act {
                            if bg == c.bank_group && bank == c.bank {
                                continue;
                            }
                            let (rule, min) = if bg == c.bank_group {
                                ("tRRD_L", u(t.trrd_l))
                            } else {
                                ("tRRD_S", u(t.trrd_s))
                            };
                            need(&mut fail, rule, Some(at), min);
                        }
                        if rank.acts.len() >= 4 {
                            let fourth = rank.acts[rank.acts.len() - 4];
                            if now < fourth + u(t.tfaw) {
                                fail(
                                    "tFAW",
                                    format!(
                                        "fifth activation {} cycles after the first of four",
                                        now - fourth
                                    ),
                                );
                            }
                        }
                        rank.acts.push(now);
                        rank.bg_act.insert(c.bank_group, (now, c.bank));
                        b.open_row = Some(c.row);
                        b.last_act = Some(now);
                    }
                    CommandKind::Precharge => {
                        if b.open_row.is_some() {
                            need(&mut fail, "tRAS (ACT->PRE)", b.last_act, u(t.tras));
                            need(&mut fail, "tRTP (RD->PRE)", b.last_rd, u(t.trtp));
                            need(&mut fail, "tWR (WR->PRE)", b.last_wr, cwl + bc + u(t.twr));
                            b.last_pre = Some(now);
                        }
                        b.open_row = None;
                    }
                    CommandKind::RefreshBank => {
                        if b.open_row.is_some() {
                            fail("REFb to an open bank", String::new());
                        }
                        closed_bank(
                            &mut fail,
                            b,
                            ["tRP (PRE->REFb)", "tRC (ACT->REFb)", "tRFCb (REFb->REFb)"],
                        );
                        need(&mut fail, "tRFC (REF->REFb)", rank.last_ref, u(t.trfc));
                        b.last_refb = Some(now);
                    }
                    _ => {
                        let is_read = c.kind.is_read();
                        match b.open_row {
                            None => fail("column command to a closed bank", String::new()),
                            Some(r) if r != c.row => fail(
                                "column command to the wrong row",
                                format!("row {r} is open, not {}", c.row),
                            ),
                            _ => {}
                        }
                        need(&mut fail, "tRCD (ACT->RD/WR)", b.last_act, u(t.trcd));
                        for (&bg, &at) in &rank.bg_rd {
                            let same = bg == c.bank_group;
                            if is_read {
                                let ccd = if same { t.tccd_l } else { t.tccd_s };
                                need(
                                    &mut fail,
                                    if same {
                                        "tCCD_L (RD->RD)"
                                    } else {
                                        "tCCD_S (RD->RD)"
                                    },
                                    Some(at),
                                    u(ccd).max(bc),
                                );
                            }
                        }
                        for (&bg, &at) in &rank.bg_wr {
                            let same = bg == c.bank_group;
                            if is_read {
                                let wtr = if same { t.twtr_l } else { t.twtr_s };
                                need(
                                    &mut fail,
                                    if same {
                                        "tWTR_L (WR->RD)"
                                    } else {
                                        "tWTR_S (WR->RD)"
                                    },
                                    Some(at),
                                    cwl + bc + u(wtr),
                                );
                            } else {
                                let ccd = if same { t.tccd_l } else { t.tccd_s };
                                need(
                                    &mut fail,
                                    if same {
                                        "tCCD_L (WR->WR)"
                                    } else {
                                        "tCCD_S (WR->WR)"
                                    },
                                    Some(at),
                                    u(ccd).max(bc),
                                );
                            }
                        }
                        // Data bus: bursts may not overlap; a change of rank or direction
                        // needs tRTRS of idle bus in between.
                        let start = now + if is_read { cl } else { cwl };
                        let ch = chans.get_mut(&c.channel).expect("channel tracked above");
                        if let Some((end, r, w)) = ch.last_burst {
                            let gap = if r != c.rank || w == is_read {
                                u(t.trtrs)
                            } else {
                                0
                            };
                            if start < end + gap {
                                fail(
                                    "data bus",
                                    format!(
                                        "burst starts at {start}, bus busy until {end} + turnaround {gap}"
                                    ),
                                );
                            }
                        }
                        ch.last_burst = Some((start + bc, c.rank, !is_read));
                        if is_read {
                            b.last_rd = Some(now);
                            rank.bg_rd.insert(c.bank_group, now);
                        } else {
                            b.last_wr = Some(now);
                            rank.bg_wr.insert(c.bank_group, now);
                        }
                        if matches!(c.kind, CommandKind::ReadAp | CommandKind::WriteAp) {
                            // Auto-precharge starts when tRTP / write recovery and tRAS allow.
                            let rec = if is_read {
                                now + u(t.trtp)
                            } else {
                                now + cwl + bc + u(t.twr)
                            };
                            let pre = rec.max(b.last_act.unwrap_or(0) + u(t.tras));
                            b.last_pre = Some(pre);
                            b.open_row = None;
                        }
                    }
                }
            }
        }
    }
    // Every rank must keep being refreshed up to the end of the log.
    if hbm.refresh == crate::config::hbm::RefreshPolicy::AllBank && last_cycle_seen > 9 * u(t.trefi)
    {
        for (&(ch, r), rank) in &ranks {
            let since = rank.last_ref.unwrap_or(0);
            if last_cycle_seen - since > 9 * u(t.trefi)
                && let Some(c) = log.last()
            {
                out.push(Violation {
                    index: log.len() - 1,
                    command: *c,
                    rule: "refresh interval",
                    detail: format!(
                        "channel {ch} rank {r} unrefreshed for {} cycles",
                        last_cycle_seen - since
                    ),
                });
            }
        }
    }
    out
}
