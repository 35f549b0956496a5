//! Area per module from the `[area]` table and the design point's unit counts.

use serde::Serialize;

use crate::config::ArchConfig;

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
        let comparators = 2 * (arch.topk_token.comparators + arch.topk_value.comparators);
        Self {
            qk_mm2: arch.qk.multipliers as f64 * a.qk_multiplier_mm2.value
                + kib(arch.qk.key_sram_bytes) * a.sram_kib_mm2.value,
            pv_mm2: arch.pv.multipliers as f64 * a.pv_multiplier_mm2.value
                + kib(arch.pv.value_sram_bytes) * a.sram_kib_mm2.value,
            fetcher_mm2: arch.fetcher.address_fifos.max(arch.fetcher.data_fifos) as f64
                * a.fetcher_lane_mm2.value,
            softmax_mm2: arch.softmax.lanes as f64 * a.softmax_lane_mm2.value,
            topk_mm2: comparators as f64 * a.topk_comparator_mm2.value,
            other_mm2: a.other_mm2.value,
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
    fn smaller_design_point_is_smaller() {
        let full = AreaBreakdown::of(&load_arch("spatten").unwrap());
        let small = AreaBreakdown::of(&load_arch("spatten-1-8").unwrap());
        assert!(small.qk_mm2 < full.qk_mm2 / 4.0);
        assert!(small.total_mm2() < full.total_mm2() / 2.0);
    }
}
