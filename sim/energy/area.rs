//! Area per module from the `[area]` table and the design point's unit counts. On-chip
//! buffers are SRAM at `area.sram_kib_mm2` a KiB: the key and value SRAMs (in QxK and
//! ProbxV), the softmax's score buffer (and a spilling design's transaction buffers), the
//! local-V engine's candidate storage when it has its own (in top-k) and the importance
//! accumulators (in "other"), so a sweep over their sizes pays for them.

use serde::Serialize;

use crate::config::ArchConfig;
use crate::config::arch::ScoreOverflow;
use crate::config::tiles::{SCORE_BUFFER_BITS, VALUE_CANDIDATE_BITS};

/// Area of each module in mm2, in a fixed order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaBreakdown {
    pub qk_mm2: f64,
    pub pv_mm2: f64,
    pub fetcher_mm2: f64,
    pub softmax_mm2: f64,
    pub topk_mm2: f64,
    pub other_mm2: f64,
}

impl AreaBreakdown {
    pub fn of(arch: &ArchConfig) -> Self {
        let a = &arch.area;
        let kib = |bytes: u64| bytes as f64 / 1024.0;
        let sram = |bits: u64| bits as f64 / 8192.0 * a.sram_kib_mm2.value;
        let comparators = 2 * (arch.topk_token.comparators + arch.topk_value.comparators);
        let sm = &arch.softmax;
        // A spilling design buffers its queued writes and its read-backs, each up to
        // `spill_buffer_transactions` transactions.
        let spill_bits = match sm.overflow {
            ScoreOverflow::Spill => {
                2 * sm.spill_buffer_transactions as u64 * arch.fetcher.transaction_bytes as u64 * 8
            }
            ScoreOverflow::Refuse => 0,
        };
        let imp = &arch.importance;
        let importance_bits = imp.token_entries as u64 * imp.token_bits as u64
            + imp.head_entries as u64 * imp.head_bits as u64;
        Self {
            qk_mm2: arch.qk.multipliers as f64 * a.qk_multiplier_mm2.value
                + kib(arch.qk.key_sram_bytes) * a.sram_kib_mm2.value,
            pv_mm2: arch.pv.multipliers as f64 * a.pv_multiplier_mm2.value
                + kib(arch.pv.value_sram_bytes) * a.sram_kib_mm2.value,
            fetcher_mm2: arch.fetcher.address_fifos.max(arch.fetcher.data_fifos) as f64
                * a.fetcher_lane_mm2.value,
            softmax_mm2: sm.lanes as f64 * a.softmax_lane_mm2.value
                + sram(sm.score_buffer_entries as u64 * SCORE_BUFFER_BITS as u64 + spill_bits),
            topk_mm2: comparators as f64 * a.topk_comparator_mm2.value
                + sram(
                    arch.topk_value.candidate_entries.unwrap_or(0) as u64
                        * VALUE_CANDIDATE_BITS as u64,
                ),
            other_mm2: a.other_mm2.value + sram(importance_bits),
        }
    }

    /// (module name, mm2) pairs in report order.
    pub fn modules(&self) -> [(&'static str, f64); 6] {
        [
            ("qk", self.qk_mm2),
            ("pv", self.pv_mm2),
            ("fetcher", self.fetcher_mm2),
            ("softmax", self.softmax_mm2),
            ("topk", self.topk_mm2),
            ("other", self.other_mm2),
        ]
    }

    pub fn total_mm2(&self) -> f64 {
        self.modules().iter().map(|(_, a)| a).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_arch;

    #[test]
    fn spatten_reproduces_the_paper_area_breakdown() {
        let a = AreaBreakdown::of(&load_arch("spatten").unwrap());
        let paper = [
            ("qk", 7.12),
            ("pv", 7.22),
            ("fetcher", 2.65),
            ("softmax", 0.79),
            ("topk", 0.50),
            ("other", 0.43),
        ];
        for ((name, got), (pname, want)) in a.modules().into_iter().zip(paper) {
            assert_eq!(name, pname);
            assert!((got - want).abs() < 1e-3, "{name}: {got} vs paper {want}");
        }
        assert!((a.total_mm2() - 18.71).abs() < 1e-3);
    }

    #[test]
    fn buffers_are_charged_per_entry_as_sram() {
        let base = load_arch("spatten").unwrap();
        let long = load_arch("spatten-long-context").unwrap();
        let (a, b) = (AreaBreakdown::of(&base), AreaBreakdown::of(&long));
        let kib_mm2 = base.area.sram_kib_mm2.value;
        // 524288 - 4096 more 25-bit exponentials, 131072 - 4096 more 32-bit token scores.
        let softmax = (524288.0 - 4096.0) * 25.0 / 8192.0 * kib_mm2;
        let other = (131072.0 - 4096.0) * 32.0 / 8192.0 * kib_mm2;
        assert!((b.softmax_mm2 - a.softmax_mm2 - softmax).abs() < 1e-9);
        assert!((b.other_mm2 - a.other_mm2 - other).abs() < 1e-9);
        assert!((b.softmax_mm2 - 6.0353).abs() < 1e-3, "{}", b.softmax_mm2);
        assert_eq!(
            (a.qk_mm2, a.pv_mm2, a.topk_mm2),
            (b.qk_mm2, b.pv_mm2, b.topk_mm2)
        );

        // A spilling design holds 64 transactions of 32 B each way.
        let mut spill = base.clone();
        spill.softmax.overflow = ScoreOverflow::Spill;
        let c = AreaBreakdown::of(&spill);
        let want = 2.0 * 64.0 * 32.0 / 1024.0 * kib_mm2;
        assert!((c.softmax_mm2 - a.softmax_mm2 - want).abs() < 1e-12);

        // A local-V engine with its own storage: 4096 candidates of 29 bits.
        let mut engine = base.clone();
        engine.topk_value.candidate_entries = Some(4096);
        let d = AreaBreakdown::of(&engine);
        let want = 4096.0 * 29.0 / 8192.0 * kib_mm2;
        assert!((d.topk_mm2 - a.topk_mm2 - want).abs() < 1e-12);
    }

    #[test]
    fn smaller_design_point_is_smaller() {
        let full = AreaBreakdown::of(&load_arch("spatten").unwrap());
        let small = AreaBreakdown::of(&load_arch("spatten-1-8").unwrap());
        assert!(small.qk_mm2 < full.qk_mm2 / 4.0);
        assert!(small.total_mm2() < full.total_mm2() / 2.0);
    }
}
