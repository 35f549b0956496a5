//! The `[hbm]` and `[hbm.timing]` tables: DRAM organisation and command timing.

use serde::{Deserialize, Serialize};

use super::error::Checker;

/// Row-buffer management policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PagePolicy {
    /// Leave the row open after an access (row hits are cheap).
    Open,
    /// Precharge as soon as no queued request targets the open row.
    Closed,
}

/// Refresh scheme. There is deliberately no "off": a DRAM model without refresh overstates
/// bandwidth (a known trap in other simulators' HBM tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefreshPolicy {
    AllBank,
    PerBank,
}

/// Organisation of the DRAM behind the fetcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbmConfig {
    /// Independent channels (16 = two HBM2 stacks of 8).
    pub channels: u32,
    /// Data bus width of one channel in bits.
    pub bus_bits: u32,
    /// Data rate per pin in Gb/s (2.0 for HBM2 at tCK = 1 ns, double data rate).
    pub data_rate_gbps_per_pin: f64,
    /// Memory clock period in ns.
    pub tck_ns: f64,
    /// Ranks per channel; each has its own banks, sharing the channel's buses.
    #[serde(default = "one")]
    pub ranks: u32,
    pub bank_groups: u32,
    pub banks_per_group: u32,
    pub rows: u32,
    /// Columns per row, counted in bus-width words.
    pub columns: u32,
    /// Burst length in beats (BL4 = 2 tCK at double data rate).
    pub burst_length: u32,
    /// DRAMsim3-style address mapping from most to least significant field:
    /// ro(w), ra(nk), bg (bank group), ba(nk), ch(annel), co(lumn).
    pub address_mapping: String,
    pub page_policy: PagePolicy,
    pub refresh: RefreshPolicy,
    /// Per-channel request queue entries (reads and writes are queued apart, each this deep).
    pub queue_depth: u32,
    /// Per-bank command queue entries between the request queue and the scheduler.
    #[serde(default = "default_bank_queue_depth")]
    pub bank_queue_depth: u32,
    /// HBM has separate row and column command buses: one row command (ACT/PRE/REF) and one
    /// column command (RD/WR) may issue in the same cycle. DDR shares one command bus.
    #[serde(default)]
    pub dual_command_issue: bool,
    pub timing: HbmTiming,
}

/// Command timing constraints, all in memory clock cycles (the DRAMsim3 / Ramulator 2.1 HBM2 configs and FGDRAM, O'Connor et al., MICRO 2017).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbmTiming {
    pub cl: u32,
    pub cwl: u32,
    pub trcd: u32,
    pub trp: u32,
    pub tras: u32,
    pub trc: u32,
    pub tccd_s: u32,
    pub tccd_l: u32,
    pub trrd_s: u32,
    pub trrd_l: u32,
    pub tfaw: u32,
    pub twtr_s: u32,
    pub twtr_l: u32,
    pub twr: u32,
    pub trtp: u32,
    pub trfc: u32,
    pub trefi: u32,
    /// Rank-to-rank (and read/write) data-bus turnaround.
    #[serde(default = "default_trtrs")]
    pub trtrs: u32,
    /// Per-bank refresh: refresh-to-activate of one bank (needed when `refresh = "per-bank"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trfcb: Option<u32>,
    /// Per-bank refresh: interval between bank refreshes in a rank (needed when per-bank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trefib: Option<u32>,
}

fn one() -> u32 {
    1
}

/// DRAMsim3's `cmd_queue_size` in its HBM2 configs.
fn default_bank_queue_depth() -> u32 {
    8
}

/// DRAMsim3's default tRTRS.
fn default_trtrs() -> u32 {
    2
}

impl HbmConfig {
    /// Peak bandwidth of one channel in GB/s.
    pub fn channel_bandwidth_gbps(&self) -> f64 {
        self.bus_bits as f64 * self.data_rate_gbps_per_pin / 8.0
    }

    /// Peak bandwidth of all channels in GB/s.
    pub fn total_bandwidth_gbps(&self) -> f64 {
        self.channel_bandwidth_gbps() * self.channels as f64
    }

    /// Bytes moved by one burst on one channel (saturating: validation compares it before
    /// the ranges of its factors are known to hold).
    pub fn burst_bytes(&self) -> u32 {
        (self.bus_bits / 8).saturating_mul(self.burst_length)
    }

    pub fn banks(&self) -> u32 {
        self.bank_groups.saturating_mul(self.banks_per_group)
    }

    /// Memory cycles one burst occupies the data bus (double data rate).
    pub fn burst_cycles(&self) -> u32 {
        (self.burst_length / 2).max(1)
    }

    pub(crate) fn check(&self, c: &mut Checker) {
        c.nonzero("hbm.channels", self.channels as u64);
        c.power_of_two("hbm.channels", self.channels as u64);
        c.nonzero("hbm.bus_bits", self.bus_bits as u64);
        if !self.bus_bits.is_multiple_of(8) {
            c.fail("hbm.bus_bits", "must be a whole number of bytes");
        }
        c.range_f64(
            "hbm.data_rate_gbps_per_pin",
            self.data_rate_gbps_per_pin,
            0.1,
            20.0,
            true,
        );
        c.range_f64("hbm.tck_ns", self.tck_ns, 0.1, 10.0, true);
        for (key, v) in [
            ("hbm.ranks", self.ranks),
            ("hbm.bank_groups", self.bank_groups),
            ("hbm.banks_per_group", self.banks_per_group),
            ("hbm.rows", self.rows),
            ("hbm.columns", self.columns),
            ("hbm.burst_length", self.burst_length),
        ] {
            c.nonzero(key, v as u64);
            c.power_of_two(key, v as u64);
        }
        c.nonzero("hbm.queue_depth", self.queue_depth as u64);
        c.nonzero("hbm.bank_queue_depth", self.bank_queue_depth as u64);
        if self.columns < self.burst_length {
            c.fail(
                "hbm.columns",
                "must hold at least one burst (columns >= burst_length)",
            );
        }
        if self.refresh == RefreshPolicy::PerBank {
            for (key, v) in [
                ("hbm.timing.trfcb", self.timing.trfcb),
                ("hbm.timing.trefib", self.timing.trefib),
            ] {
                if v.unwrap_or(0) == 0 {
                    c.fail(
                        key,
                        "must be set (greater than zero) when refresh = \"per-bank\"",
                    );
                }
            }
        }
        self.check_bounds(c);
        check_mapping(c, &self.address_mapping);
        let t = &self.timing;
        for (key, v) in [
            ("hbm.timing.cl", t.cl),
            ("hbm.timing.trcd", t.trcd),
            ("hbm.timing.trp", t.trp),
            ("hbm.timing.tras", t.tras),
            ("hbm.timing.trc", t.trc),
            ("hbm.timing.tccd_s", t.tccd_s),
            ("hbm.timing.tccd_l", t.tccd_l),
            ("hbm.timing.trfc", t.trfc),
            ("hbm.timing.trefi", t.trefi),
        ] {
            c.nonzero(key, v as u64);
        }
        // In u64: u32 sums of huge timings would wrap and pass.
        let tras_trp = u64::from(t.tras) + u64::from(t.trp);
        if u64::from(t.trc) < tras_trp {
            c.fail(
                "hbm.timing.trc",
                format!("must be at least tras + trp = {tras_trp}"),
            );
        }
        if t.tccd_l < t.tccd_s {
            c.fail("hbm.timing.tccd_l", "must be at least tccd_s");
        }
        if t.trrd_l < t.trrd_s {
            c.fail("hbm.timing.trrd_l", "must be at least trrd_s");
        }
        if t.trefi <= t.trfc {
            c.fail(
                "hbm.timing.trefi",
                "must exceed trfc, or the device does nothing but refresh",
            );
        }
    }
}

impl HbmConfig {
    /// Upper bounds: what DRAM devices have (with room to spare), and what keeps the model's
    /// per-bank and per-queue tables within a workstation's memory.
    fn check_bounds(&self, c: &mut Checker) {
        for (key, v, max, why) in [
            (
                "hbm.channels",
                self.channels,
                1024,
                "channels; HBM3 stacks have 16 to 32 each",
            ),
            ("hbm.bus_bits", self.bus_bits, 2048, "bits per channel"),
            ("hbm.ranks", self.ranks, 16, "ranks per channel"),
            (
                "hbm.bank_groups",
                self.bank_groups,
                16,
                "bank groups per rank",
            ),
            (
                "hbm.banks_per_group",
                self.banks_per_group,
                64,
                "banks per bank group",
            ),
            ("hbm.rows", self.rows, 1 << 24, "rows per bank"),
            ("hbm.columns", self.columns, 1 << 16, "columns per row"),
            ("hbm.burst_length", self.burst_length, 64, "beats per burst"),
            (
                "hbm.queue_depth",
                self.queue_depth,
                4096,
                "entries per channel queue",
            ),
            (
                "hbm.bank_queue_depth",
                self.bank_queue_depth,
                1024,
                "entries per bank queue",
            ),
        ] {
            c.at_most(key, v as u64, max, why);
        }
        let banks = self.ranks as u64 * self.bank_groups as u64 * self.banks_per_group as u64;
        if self.ranks <= 16 && self.bank_groups <= 16 && self.banks_per_group <= 64 {
            c.at_most(
                "hbm.banks_per_group",
                banks,
                1024,
                "banks per channel, ranks x bank_groups x banks_per_group; the scheduler \
                 scans every bank each cycle",
            );
        }
        let t = &self.timing;
        let mut timings = vec![
            ("hbm.timing.cl", t.cl),
            ("hbm.timing.cwl", t.cwl),
            ("hbm.timing.trcd", t.trcd),
            ("hbm.timing.trp", t.trp),
            ("hbm.timing.tras", t.tras),
            ("hbm.timing.trc", t.trc),
            ("hbm.timing.tccd_s", t.tccd_s),
            ("hbm.timing.tccd_l", t.tccd_l),
            ("hbm.timing.trrd_s", t.trrd_s),
            ("hbm.timing.trrd_l", t.trrd_l),
            ("hbm.timing.tfaw", t.tfaw),
            ("hbm.timing.twtr_s", t.twtr_s),
            ("hbm.timing.twtr_l", t.twtr_l),
            ("hbm.timing.twr", t.twr),
            ("hbm.timing.trtp", t.trtp),
            ("hbm.timing.trfc", t.trfc),
            ("hbm.timing.trefi", t.trefi),
            ("hbm.timing.trtrs", t.trtrs),
        ];
        timings.extend(t.trfcb.map(|v| ("hbm.timing.trfcb", v)));
        timings.extend(t.trefib.map(|v| ("hbm.timing.trefib", v)));
        for (key, v) in timings {
            c.at_most(
                key,
                v as u64,
                100_000,
                "memory cycles; DRAM timings are below 100 us",
            );
        }
    }
}

fn check_mapping(c: &mut Checker, mapping: &str) {
    let key = "hbm.address_mapping";
    if mapping.len() != 12 || !mapping.is_ascii() {
        c.fail(
            key,
            format!("must be six two-letter fields such as \"rorabgbachco\" (got {mapping:?})"),
        );
        return;
    }
    let mut fields: Vec<&str> = (0..6).map(|i| &mapping[2 * i..2 * i + 2]).collect();
    fields.sort_unstable();
    if fields != ["ba", "bg", "ch", "co", "ra", "ro"] {
        c.fail(key, "must use each of ro, ra, bg, ba, ch, co exactly once");
    }
}
