//! Turns a run's activity counters into joules, by module and by cause, with the `[energy]`
//! table's per-action energies and leakage over the `[area]` model.

use serde::Serialize;

use super::area::AreaBreakdown;
use crate::config::ArchConfig;
use crate::hw::SimStats;

/// Dynamic and static energy of one module.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleEnergy {
    pub module: String,
    pub dynamic_j: f64,
    pub static_j: f64,
}

impl ModuleEnergy {
    pub fn total_j(&self) -> f64 {
        self.dynamic_j + self.static_j
    }
}

/// Energy by cause, the split a paper's breakdown figure shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseEnergy {
    /// QxK and ProbxV multiply-accumulates (with their SRAM reads).
    pub compute_j: f64,
    /// Softmax, requant decision, top-k, importance and control.
    pub softmax_topk_control_j: f64,
    /// Fetcher, crossbars, bitwidth conversion and SRAM writes.
    pub on_chip_data_movement_j: f64,
    pub dram_activation_j: f64,
    pub dram_transfer_j: f64,
    pub leakage_j: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyReport {
    pub total_j: f64,
    pub on_chip_j: f64,
    pub dram_j: f64,
    pub average_power_w: f64,
    pub modules: Vec<ModuleEnergy>,
    pub by_cause: CauseEnergy,
}

impl EnergyReport {
    pub fn compute(arch: &ArchConfig, stats: &SimStats) -> Self {
        let e = &arch.energy;
        let pj = 1e-12;
        let area = AreaBreakdown::of(arch);
        let leak_w = |mm2: f64| mm2 * e.leakage_w_per_mm2.value;
        let seconds = stats.seconds;
        let bytes_moved = stats.dram.backend.bytes_read + stats.dram.backend.bytes_written;

        let qk = stats.qk_macs as f64 * e.qk_mac_pj.value * pj
            + stats.sram.key_write_bits as f64 * e.sram_write_bit_pj.value * pj;
        let pv = stats.pv_macs as f64 * e.pv_mac_pj.value * pj
            + stats.sram.value_write_bits as f64 * e.sram_write_bit_pj.value * pj;
        // The score spill's bytes cross the same crossbars as the fetcher's reads.
        let fetcher = stats.dram.bytes_moved() as f64 * e.fetcher_byte_pj.value * pj;
        let softmax = stats.scores as f64 * e.softmax_element_pj.value * pj;
        let topk = stats.topk.comparisons as f64 * e.topk_comparison_pj.value * pj;
        // The controller sequences the whole run; requant and importance share its budget.
        let other = stats.cycles as f64 * e.control_cycle_pj.value * pj;
        let dram_act = stats.dram.backend.activations as f64 * e.dram_activation_pj.value * pj;
        let dram_xfer = bytes_moved as f64 * 8.0 * e.dram_bit_pj.value * pj;

        let modules: Vec<ModuleEnergy> = [
            ("qk", qk, area.qk_mm2),
            ("pv", pv, area.pv_mm2),
            ("fetcher", fetcher, area.fetcher_mm2),
            ("softmax", softmax, area.softmax_mm2),
            ("topk", topk, area.topk_mm2),
            ("other", other, area.other_mm2),
        ]
        .into_iter()
        .map(|(name, dynamic_j, mm2)| ModuleEnergy {
            module: name.to_string(),
            dynamic_j,
            static_j: leak_w(mm2) * seconds,
        })
        .collect();
        let on_chip_j: f64 = modules.iter().map(ModuleEnergy::total_j).sum();
        let dram_j = dram_act + dram_xfer;
        let sram_writes = (stats.sram.key_write_bits + stats.sram.value_write_bits) as f64
            * e.sram_write_bit_pj.value
            * pj;
        let by_cause = CauseEnergy {
            compute_j: qk + pv - sram_writes,
            softmax_topk_control_j: softmax + topk + other,
            on_chip_data_movement_j: fetcher + sram_writes,
            dram_activation_j: dram_act,
            dram_transfer_j: dram_xfer,
            leakage_j: modules.iter().map(|m| m.static_j).sum(),
        };
        let total_j = on_chip_j + dram_j;
        Self {
            total_j,
            on_chip_j,
            dram_j,
            average_power_w: if seconds > 0.0 {
                total_j / seconds
            } else {
                0.0
            },
            modules,
            by_cause,
        }
    }

    /// Operations per joule for `ops` operations.
    pub fn ops_per_joule(&self, ops: u64) -> f64 {
        if self.total_j > 0.0 {
            ops as f64 / self.total_j
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_arch;

    /// One second of every module at the activity the paper's power figures assume.
    fn full_activity(arch: &ArchConfig) -> SimStats {
        let f = arch.clock.frequency_mhz * 1e6;
        let mut s = SimStats {
            cycles: f as u64,
            seconds: 1.0,
            qk_macs: (arch.qk.multipliers as f64 * f) as u64,
            pv_macs: (arch.pv.multipliers as f64 * f) as u64,
            scores: (arch.softmax.lanes as f64 * f) as u64,
            ..SimStats::default()
        };
        s.dram.bytes_read =
            (arch.hbm.channels as f64 * arch.fetcher.transaction_bytes as f64 * f) as u64;
        let comparators = 2 * (arch.topk_token.comparators + arch.topk_value.comparators);
        s.topk.comparisons = (comparators as f64 * f) as u64;
        s
    }

    #[test]
    fn full_activity_reproduces_the_paper_module_powers() {
        let arch = load_arch("spatten").unwrap();
        let r = EnergyReport::compute(&arch, &full_activity(&arch));
        let paper = [
            ("qk", 1.13),
            ("pv", 0.53),
            ("fetcher", 0.24),
            ("softmax", 0.50),
            ("topk", 0.08),
            ("other", 0.12),
        ];
        for (m, (name, watts)) in r.modules.iter().zip(paper) {
            assert_eq!(m.module, name);
            assert!(
                (m.total_j() - watts).abs() / watts < 1e-3,
                "{name}: {} W",
                m.total_j()
            );
        }
        assert!((r.on_chip_j - 2.60).abs() < 3e-3, "{}", r.on_chip_j);
        assert_eq!(r.dram_j, 0.0);
    }

    #[test]
    fn dram_energy_is_activations_plus_bits() {
        let arch = load_arch("spatten").unwrap();
        let mut s = SimStats {
            seconds: 1e-6,
            cycles: 1000,
            ..SimStats::default()
        };
        s.dram.backend.activations = 10;
        s.dram.backend.bytes_read = 1000;
        let r = EnergyReport::compute(&arch, &s);
        let want = (10.0 * 909.0 + 8000.0 * 3.48) * 1e-12;
        assert!((r.dram_j - want).abs() < 1e-18);
        assert!((r.by_cause.dram_activation_j + r.by_cause.dram_transfer_j - want).abs() < 1e-18);
    }
}
