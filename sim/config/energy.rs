//! The `[energy]` and `[area]` tables: per-action energies and per-unit areas, each number
//! with the source it was derived from.

use serde::{Deserialize, Serialize};

use super::error::Checker;

/// A number and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sourced {
    pub value: f64,
    pub source: String,
}

/// Energy per action in pJ (dynamic) and leakage per mm2 (static).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyConfig {
    /// One 12x12-bit multiply-accumulate in QxK, with its adder-tree share and key SRAM read.
    pub qk_mac_pj: Sourced,
    /// One multiply-accumulate in ProbxV, with its adder-tree share and value SRAM read.
    pub pv_mac_pj: Sourced,
    /// Writing one bit into the key or value SRAM.
    pub sram_write_bit_pj: Sourced,
    /// One score through dequantize, exp, accumulate, divide and requantize.
    pub softmax_element_pj: Sourced,
    /// One element through one comparator of a top-k engine.
    pub topk_comparison_pj: Sourced,
    /// One DRAM byte through address generation, FIFOs, crossbars and bitwidth conversion.
    pub fetcher_byte_pj: Sourced,
    /// One cycle of the controller, requant decision and importance accumulators working.
    pub control_cycle_pj: Sourced,
    /// One DRAM row activation (with its precharge).
    pub dram_activation_pj: Sourced,
    /// One bit read or written at the DRAM (core + I/O + PHY).
    pub dram_bit_pj: Sourced,
    /// Static power per mm2 of logic and SRAM.
    pub leakage_w_per_mm2: Sourced,
}

/// Area per unit in mm2, so sweeps can report performance per area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaConfig {
    /// One QxK multiplier with its adder-tree share and pipeline registers.
    pub qk_multiplier_mm2: Sourced,
    /// One ProbxV multiplier with its adder-tree share and accumulators.
    pub pv_multiplier_mm2: Sourced,
    /// One KiB of on-chip SRAM: the key and value SRAMs, the softmax's score buffer (and a
    /// spilling design's transaction buffers), the importance accumulators.
    pub sram_kib_mm2: Sourced,
    /// One softmax lane (its score buffer is charged as SRAM).
    pub softmax_lane_mm2: Sourced,
    /// One comparator of a top-k engine, with its share of FIFOs and zero eliminators.
    pub topk_comparator_mm2: Sourced,
    /// One fetcher lane: an address FIFO, a data FIFO and their crossbar ports.
    pub fetcher_lane_mm2: Sourced,
    /// Controller and requant decision (the importance accumulators are charged as SRAM).
    pub other_mm2: Sourced,
}

/// Above this, a per-action energy (1 uJ) or a per-unit area (1 m2) is a typo, and products
/// with event counts would leave the range where reports stay finite.
const ENTRY_MAX: f64 = 1e6;

fn check_entry(c: &mut Checker, key: &str, e: &Sourced) {
    if !(e.value.is_finite() && e.value >= 0.0) {
        c.fail(
            &format!("{key}.value"),
            format!("must be a finite number >= 0 (got {})", e.value),
        );
    } else {
        c.at_most_f64(
            &format!("{key}.value"),
            e.value,
            ENTRY_MAX,
            "per action or per unit",
        );
    }
    if e.source.trim().is_empty() {
        c.fail(
            &format!("{key}.source"),
            "must say where the number comes from",
        );
    }
}

impl EnergyConfig {
    pub fn entries(&self) -> [(&'static str, &Sourced); 10] {
        [
            ("qk_mac_pj", &self.qk_mac_pj),
            ("pv_mac_pj", &self.pv_mac_pj),
            ("sram_write_bit_pj", &self.sram_write_bit_pj),
            ("softmax_element_pj", &self.softmax_element_pj),
            ("topk_comparison_pj", &self.topk_comparison_pj),
            ("fetcher_byte_pj", &self.fetcher_byte_pj),
            ("control_cycle_pj", &self.control_cycle_pj),
            ("dram_activation_pj", &self.dram_activation_pj),
            ("dram_bit_pj", &self.dram_bit_pj),
            ("leakage_w_per_mm2", &self.leakage_w_per_mm2),
        ]
    }

    pub(crate) fn check(&self, c: &mut Checker) {
        for (k, e) in self.entries() {
            check_entry(c, &format!("energy.{k}"), e);
        }
    }
}

impl AreaConfig {
    pub fn entries(&self) -> [(&'static str, &Sourced); 7] {
        [
            ("qk_multiplier_mm2", &self.qk_multiplier_mm2),
            ("pv_multiplier_mm2", &self.pv_multiplier_mm2),
            ("sram_kib_mm2", &self.sram_kib_mm2),
            ("softmax_lane_mm2", &self.softmax_lane_mm2),
            ("topk_comparator_mm2", &self.topk_comparator_mm2),
            ("fetcher_lane_mm2", &self.fetcher_lane_mm2),
            ("other_mm2", &self.other_mm2),
        ]
    }

    pub(crate) fn check(&self, c: &mut Checker) {
        for (k, e) in self.entries() {
            check_entry(c, &format!("area.{k}"), e);
        }
    }
}
