//! Command-to-command delays derived from `HbmTiming`, grouped by scope (same bank, same bank
//! group, same rank, other ranks). The scheduler keeps, per scope, the earliest cycle each
//! command type may issue; a command is ready when all scopes that contain its bank allow it.
//!
//! Each same-bank-group delay is at least the same-rank one and each same-bank delay at least
//! the same-bank-group one (tCCD_L >= tCCD_S, tRRD_L >= tRRD_S, tWTR_L >= tWTR_S, tRC >=
//! tRRD_L), so a scope's update may also cover its own inner scopes.

use crate::config::HbmConfig;

/// Index of a command type in the per-scope "earliest issue" arrays.
pub const ACT: usize = 0;
pub const RD: usize = 1;
pub const WR: usize = 2;
pub const PRE: usize = 3;
pub const REF: usize = 4;
pub const KINDS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delays {
    /// Data-bus cycles of one burst.
    pub burst: u64,
    /// Read command to first data beat (CL) and write command to first data beat (CWL).
    pub rl: u64,
    pub wl: u64,
    pub rd_rd_l: u64,
    pub rd_rd_s: u64,
    pub rd_rd_o: u64,
    pub rd_wr: u64,
    pub rd_wr_o: u64,
    pub rd_pre: u64,
    pub wr_rd_l: u64,
    pub wr_rd_s: u64,
    pub wr_rd_o: u64,
    pub wr_wr_l: u64,
    pub wr_wr_s: u64,
    pub wr_wr_o: u64,
    pub wr_pre: u64,
    pub act_act: u64,
    pub act_act_l: u64,
    pub act_act_s: u64,
    pub act_rdwr: u64,
    pub act_pre: u64,
    pub pre_act: u64,
    pub ref_act: u64,
    pub refb_act: u64,
    pub faw: u64,
}

impl Delays {
    pub fn new(hbm: &HbmConfig) -> Self {
        let t = &hbm.timing;
        let v = |x: u32| x as u64;
        let bc = hbm.burst_cycles() as u64;
        let (rl, wl, rtrs) = (v(t.cl), v(t.cwl), v(t.trtrs));
        // Data-bus turnaround: the second burst starts tRTRS after the first one ends.
        let rd_wr = (rl + bc + rtrs).saturating_sub(wl);
        let wr_rd_o = (wl + bc + rtrs).saturating_sub(rl);
        Self {
            burst: bc,
            rl,
            wl,
            rd_rd_l: bc.max(v(t.tccd_l)),
            rd_rd_s: bc.max(v(t.tccd_s)),
            rd_rd_o: bc + rtrs,
            rd_wr,
            rd_wr_o: rd_wr,
            rd_pre: v(t.trtp),
            wr_rd_l: wl + bc + v(t.twtr_l),
            wr_rd_s: wl + bc + v(t.twtr_s),
            wr_rd_o,
            wr_wr_l: bc.max(v(t.tccd_l)),
            wr_wr_s: bc.max(v(t.tccd_s)),
            wr_wr_o: bc + rtrs,
            wr_pre: wl + bc + v(t.twr),
            act_act: v(t.trc),
            act_act_l: v(t.trrd_l),
            act_act_s: v(t.trrd_s),
            act_rdwr: v(t.trcd),
            act_pre: v(t.tras),
            pre_act: v(t.trp),
            ref_act: v(t.trfc),
            refb_act: v(t.trfcb.unwrap_or(t.trfc)),
            faw: v(t.tfaw),
        }
    }
}
