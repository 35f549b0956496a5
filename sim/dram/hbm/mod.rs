//! The native command-level DRAM model (HBM2 and DDR-class devices alike).
//!
//! Per channel: ranks x bank groups x banks with row buffers (open- or closed-page), a read
//! queue and a write buffer, per-bank command queues, an FR-FCFS scheduler, all-bank or
//! per-bank refresh and every timing constraint of `HbmTiming` (see `channel.rs` and
//! `timing.rs`). Addresses map to channels / banks / rows / columns by the DRAMsim3-style
//! mapping string (see `mapping.rs`).
//!
//! Time: `tick` processes the memory cycle `cycle()` and then advances it. A request enqueued
//! at cycle `a` moves to its bank queue during tick `a`, its first DRAM command issues at the
//! earliest in tick `a + 1` (the controller's one-cycle pipeline), and a read completes (its
//! id is returned) in tick `issue + CL + burst_cycles`. So an unloaded row hit takes
//! `1 + CL + BL/2` cycles, a row miss on an idle bank `1 + tRCD + CL + BL/2`, and a row
//! conflict `1 + tRP + tRCD + CL + BL/2`. Writes are posted: they complete one cycle after
//! arrival and drain to the DRAM in batches. A read of an address with a buffered write is
//! served from the buffer (one cycle); a read of an address with a queued read rides on it,
//! and a write to an address already buffered merges into it. `reads`, `writes` and the
//! byte counters count DRAM column commands; `completed` counts requests.
//!
//! Idle skipping: each channel keeps a lower bound on the next cycle in which it can do
//! anything (complete a read, move a request, issue a command, start a refresh); `tick` and
//! `advance_to` only step channels whose bound has been reached, so both execute exactly the
//! same sequence of channel steps (tested against stepping every channel every cycle).

pub mod channel;
pub mod mapping;
pub mod preset;
mod request_queue;
pub mod timing;

use std::path::Path;

pub use mapping::{AddressMapping, Location};
pub use preset::load_dram_preset;

use self::channel::{Channel, Params, Txn};
use self::timing::Delays;
use super::command_log::Command;
use super::{Dram, DramRequest, DramStats};
use crate::config::hbm::{PagePolicy, RefreshPolicy};
use crate::config::{ConfigError, HbmConfig};

/// The native model.
#[derive(Debug, Clone)]
pub struct HbmDram {
    params: Params,
    mapping: AddressMapping,
    channels: Vec<Channel>,
    cycle: u64,
    stats: DramStats,
    log: Option<Vec<Command>>,
    /// Requests queued or in flight over all channels (the sum of the channels' counts).
    pending: usize,
    /// Step every channel every cycle (for testing the idle-skipping bound).
    exhaustive: bool,
}

impl HbmDram {
    /// Builds the model for a validated `[hbm]` table. `request_bytes` (the caller's
    /// transaction) must be a power of two no larger than one burst; each request is one burst.
    pub fn new(hbm: &HbmConfig, request_bytes: u32) -> Result<Self, ConfigError> {
        let burst = hbm.burst_bytes();
        if request_bytes == 0 || !request_bytes.is_power_of_two() || request_bytes > burst {
            return Err(ConfigError::new(
                Path::new("<dram>"),
                Some("hbm.burst_length".into()),
                format!(
                    "a request of {request_bytes} B must be a power of two no larger than one burst \
                     ({} bit x BL{} = {burst} B)",
                    hbm.bus_bits, hbm.burst_length
                ),
            ));
        }
        let t = &hbm.timing;
        let per_bank = hbm.refresh == RefreshPolicy::PerBank;
        let refresh_interval = if per_bank {
            t.trefib.unwrap_or(t.trefi) as u64
        } else {
            // Ranks are refreshed in turn, each once per tREFI.
            (t.trefi / hbm.ranks).max(1) as u64
        };
        let params = Params {
            delays: Delays::new(hbm),
            ranks: hbm.ranks as usize,
            bank_groups: hbm.bank_groups as usize,
            banks_per_group: hbm.banks_per_group as usize,
            queue_depth: hbm.queue_depth as usize,
            bank_queue_depth: hbm.bank_queue_depth as usize,
            dual_command_issue: hbm.dual_command_issue,
            closed_page: hbm.page_policy == PagePolicy::Closed,
            per_bank_refresh: per_bank,
            refresh_interval,
            request_bytes: request_bytes as u64,
            exhaustive: false,
        };
        let channels = (0..hbm.channels)
            .map(|c| Channel::new(c, &params))
            .collect();
        Ok(Self {
            params,
            mapping: AddressMapping::new(hbm),
            channels,
            cycle: 0,
            stats: DramStats {
                latency_histogram: vec![0; channel::LATENCY_BUCKETS],
                latency_histogram_bucket_cycles: channel::LATENCY_BUCKET_CYCLES,
                ..DramStats::default()
            },
            log: None,
            pending: 0,
            exhaustive: false,
        })
    }

    /// Starts recording every issued command (for the legality checker).
    pub fn record_commands(&mut self) {
        self.log.get_or_insert_with(Vec::new);
    }

    /// The commands issued so far, when recording.
    pub fn command_log(&self) -> Option<&[Command]> {
        self.log.as_deref()
    }

    /// Steps every channel in every cycle and scans every bank queue, instead of only those
    /// whose lower bound says they may act; results must not change.
    pub fn set_exhaustive(&mut self, on: bool) {
        self.exhaustive = on;
        self.params.exhaustive = on;
    }

    pub fn mapping(&self) -> &AddressMapping {
        &self.mapping
    }

    fn step_cycle(&mut self, done: &mut Vec<u64>) {
        let c = self.cycle;
        for ch in self.channels.iter_mut() {
            if self.exhaustive || ch.wake <= c {
                let before = ch.in_flight();
                ch.step(&self.params, c, &mut self.stats, done, &mut self.log);
                self.pending -= before - ch.in_flight();
            }
        }
        self.cycle += 1;
        self.account(1);
    }

    /// Adds `n` cycles at the current occupancy to the queue statistics.
    fn account(&mut self, n: u64) {
        let pending = self.pending() as u64;
        self.stats.queue_occupancy_sum += pending * n;
        self.stats.max_queue_occupancy = self.stats.max_queue_occupancy.max(pending);
        self.stats.cycles = self.cycle;
    }

    fn min_wake(&self) -> u64 {
        self.channels
            .iter()
            .map(|c| c.wake)
            .min()
            .unwrap_or(u64::MAX)
    }
}

impl Dram for HbmDram {
    fn channel_of(&self, addr: u64) -> u32 {
        self.mapping.channel_of(addr)
    }

    fn can_accept(&self, addr: u64, is_write: bool) -> bool {
        self.channels[self.channel_of(addr) as usize].can_accept(&self.params, is_write)
    }

    fn enqueue(&mut self, req: DramRequest) -> Result<(), DramRequest> {
        let loc = self.mapping.locate(req.addr);
        if !self.channels[loc.channel as usize].can_accept(&self.params, req.is_write) {
            return Err(req);
        }
        let t = Txn {
            id: req.id,
            addr: req.addr,
            is_write: req.is_write,
            arrival: self.cycle,
            row: loc.row,
            column: loc.column,
            bank: 0,
        };
        self.channels[loc.channel as usize].enqueue(&self.params, t, &loc, self.cycle);
        self.pending += 1;
        self.stats.max_queue_occupancy = self.stats.max_queue_occupancy.max(self.pending() as u64);
        Ok(())
    }

    fn tick(&mut self, done: &mut Vec<u64>) {
        self.step_cycle(done);
    }

    fn cycle(&self) -> u64 {
        self.cycle
    }

    /// The first cycle whose tick may change anything (complete a request, issue a command,
    /// refresh), or `None` when no request is queued or in flight. Refresh keeps running in
    /// idle periods and is caught up exactly by `advance_to`.
    fn next_event(&self) -> Option<u64> {
        if self.pending() == 0 {
            return None;
        }
        // The tick that processes the wake cycle is the one `advance_to(wake + 1)` runs.
        Some(self.min_wake().max(self.cycle) + 1)
    }

    fn advance_to(&mut self, cycle: u64, done: &mut Vec<u64>) {
        while self.cycle < cycle {
            let next = if self.exhaustive {
                self.cycle
            } else {
                self.min_wake().max(self.cycle)
            };
            if next >= cycle {
                let n = cycle - self.cycle;
                self.cycle = cycle;
                self.account(n);
                break;
            }
            if next > self.cycle {
                let n = next - self.cycle;
                self.cycle = next;
                self.account(n);
            }
            self.step_cycle(done);
        }
    }

    fn pending(&self) -> usize {
        debug_assert_eq!(
            self.pending,
            self.channels.iter().map(Channel::in_flight).sum::<usize>()
        );
        self.pending
    }

    fn stats(&self) -> DramStats {
        DramStats {
            per_channel: self.channels.iter().map(|c| c.counters.clone()).collect(),
            ..self.stats.clone()
        }
    }

    fn request_bytes(&self) -> u32 {
        self.params.request_bytes as u32
    }
}
