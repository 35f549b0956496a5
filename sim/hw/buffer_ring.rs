//! The key/value SRAM buffer manager: a ring of SRAM rows in which each open head holds an
//! allocation (its K rows in the key SRAM, its V rows in the value SRAM), with at most
//! `controller.buffer_allocations` allocations in flight (the public RTL's buffer manager
//! keeps up to 16).
//!
//! Heads close in call order (ProbxV finishes them in order), so allocations are freed in the
//! order they were made and the ring never has holes: an allocation fits when the rows left
//! (capacity less the rows of open allocations) and a free slot allow it. With both SRAMs
//! double-buffered, every head fits one bank (half the SRAM, `validate`), so two allocations
//! always fit: `buffer_allocations = 2` is the fixed two-bank scheme exactly. Without double
//! buffering the SRAM serves one head at a time (one allocation), whatever the setting.
//! A head that streams in tiles ([`super::tiling`]) takes the whole ring.

use super::tiling::TilePlan;
use crate::config::ArchConfig;
use crate::trace::attention::HeadCall;

/// One head's claim on the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    slots: u32,
    key_rows: u64,
    value_rows: u64,
}

#[derive(Debug)]
pub struct BufferRing {
    slots: u32,
    key_rows: u64,
    value_rows: u64,
    open_slots: u32,
    used_key_rows: u64,
    used_value_rows: u64,
    plan: TilePlan,
}

impl BufferRing {
    pub fn new(arch: &ArchConfig, head_dim: u32) -> Self {
        let row_bytes = (head_dim as u64 * arch.bitwidth_converter.output_bits as u64 / 8).max(1);
        let slots = if arch.qk.double_buffered && arch.pv.double_buffered {
            arch.controller.buffer_allocations.max(1)
        } else {
            1
        };
        Self {
            slots,
            key_rows: arch.qk.key_sram_bytes / row_bytes,
            value_rows: arch.pv.value_sram_bytes / row_bytes,
            open_slots: 0,
            used_key_rows: 0,
            used_value_rows: 0,
            plan: TilePlan::new(arch, head_dim),
        }
    }

    /// What head call `hc` claims. A locally pruned head's kept V rows are not known when it
    /// opens, so it claims a row per key (at most a value bank).
    pub fn allocation(&self, hc: &HeadCall, tiled: bool) -> Allocation {
        if tiled {
            return Allocation {
                slots: self.slots,
                key_rows: self.key_rows,
                value_rows: self.value_rows,
            };
        }
        let values = if hc.value_topk.is_some() {
            hc.keys.len().min(self.plan.value_tile_rows as usize)
        } else {
            hc.values.len()
        };
        Allocation {
            slots: 1,
            key_rows: hc.keys.len() as u64,
            value_rows: values as u64,
        }
    }

    pub fn fits(&self, a: Allocation) -> bool {
        self.open_slots + a.slots <= self.slots
            && self.used_key_rows + a.key_rows <= self.key_rows
            && self.used_value_rows + a.value_rows <= self.value_rows
    }

    pub fn take(&mut self, a: Allocation) {
        self.open_slots += a.slots;
        self.used_key_rows += a.key_rows;
        self.used_value_rows += a.value_rows;
    }

    pub fn free(&mut self, a: Allocation) {
        self.open_slots -= a.slots;
        self.used_key_rows -= a.key_rows;
        self.used_value_rows -= a.value_rows;
    }

    pub fn describe(&self) -> String {
        format!(
            "{}/{} allocations, {}/{} key rows, {}/{} value rows",
            self.open_slots,
            self.slots,
            self.used_key_rows,
            self.key_rows,
            self.used_value_rows,
            self.value_rows
        )
    }
}
