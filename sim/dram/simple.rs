//! A bandwidth / latency DRAM model: each channel starts one transaction every
//! `request_bytes / channel_bytes_per_cycle` cycles (at least one) and completes it a fixed
//! latency later. No banks, rows or refresh: the command-level model is in `hbm`.

use std::collections::VecDeque;

use super::{Dram, DramRequest, DramStats};
use crate::config::HbmConfig;

#[derive(Debug, Clone)]
pub struct SimpleDram {
    channels: u32,
    request_bytes: u32,
    /// Cycles one transaction occupies its channel's data bus.
    occupancy_cycles: u64,
    latency_cycles: u64,
    queue_depth: usize,
    cycle: u64,
    queues: Vec<VecDeque<(DramRequest, u64)>>,
    /// Cycle at which each channel's bus is next free.
    bus_free: Vec<u64>,
    /// (completion cycle, id, arrival) in issue order per channel; completions are monotone.
    in_flight: Vec<VecDeque<(u64, u64, u64)>>,
    /// Bit `ch % 64` of word `ch / 64` set while channel `ch` has a queued or in-flight
    /// request: `tick` visits only those channels (in ascending order, as a full scan would).
    active: Vec<u64>,
    /// Requests queued or in flight, over all channels.
    pending: usize,
    /// `channel_of` by shift and mask when both counts are powers of two (else division).
    pow2: Option<(u32, u64)>,
    stats: DramStats,
}

impl SimpleDram {
    /// Latency = tRCD + CL (a row miss on an idle bank), bandwidth = the channel's peak.
    pub fn from_config(hbm: &HbmConfig, request_bytes: u32) -> Self {
        let bytes_per_cycle = (hbm.bus_bits as f64 / 8.0) * hbm.data_rate_gbps_per_pin * hbm.tck_ns;
        let occupancy = (request_bytes as f64 / bytes_per_cycle).ceil().max(1.0) as u64;
        Self::new(
            hbm.channels,
            request_bytes,
            occupancy,
            (hbm.timing.trcd + hbm.timing.cl) as u64,
            hbm.queue_depth as usize,
        )
    }

    pub fn new(
        channels: u32,
        request_bytes: u32,
        occupancy_cycles: u64,
        latency_cycles: u64,
        queue_depth: usize,
    ) -> Self {
        Self {
            channels,
            request_bytes,
            occupancy_cycles,
            latency_cycles,
            queue_depth,
            cycle: 0,
            queues: vec![VecDeque::new(); channels as usize],
            bus_free: vec![0; channels as usize],
            in_flight: vec![VecDeque::new(); channels as usize],
            active: vec![0; (channels as usize).div_ceil(64)],
            pending: 0,
            pow2: (request_bytes.is_power_of_two() && channels.is_power_of_two())
                .then(|| (request_bytes.trailing_zeros(), channels as u64 - 1)),
            stats: DramStats::default(),
        }
    }

    /// Calls `f` with each active channel, in ascending order; `f` may clear its own bit.
    fn for_active(&mut self, mut f: impl FnMut(&mut Self, usize)) {
        for w in 0..self.active.len() {
            let mut bits = self.active[w];
            while bits != 0 {
                let ch = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                f(self, ch);
            }
        }
    }

    fn issue(&mut self) {
        self.for_active(Self::issue_channel);
    }

    fn issue_channel(&mut self, ch: usize) {
        {
            if self.bus_free[ch] > self.cycle {
                return;
            }
            if let Some((req, arrival)) = self.queues[ch].pop_front() {
                self.bus_free[ch] = self.cycle + self.occupancy_cycles;
                let done_at = self.cycle + self.occupancy_cycles + self.latency_cycles;
                self.in_flight[ch].push_back((done_at, req.id, arrival));
                if req.is_write {
                    self.stats.writes += 1;
                    self.stats.bytes_written += self.request_bytes as u64;
                } else {
                    self.stats.reads += 1;
                    self.stats.bytes_read += self.request_bytes as u64;
                }
            }
        }
    }
}

impl Dram for SimpleDram {
    fn channel_of(&self, addr: u64) -> u32 {
        match self.pow2 {
            Some((shift, mask)) => ((addr >> shift) & mask) as u32,
            None => ((addr / self.request_bytes as u64) % self.channels as u64) as u32,
        }
    }

    fn can_accept(&self, addr: u64, _is_write: bool) -> bool {
        self.queues[self.channel_of(addr) as usize].len() < self.queue_depth
    }

    fn enqueue(&mut self, req: DramRequest) -> Result<(), DramRequest> {
        if !self.can_accept(req.addr, req.is_write) {
            return Err(req);
        }
        let ch = self.channel_of(req.addr) as usize;
        self.queues[ch].push_back((req, self.cycle));
        self.active[ch / 64] |= 1u64 << (ch % 64);
        self.pending += 1;
        Ok(())
    }

    fn tick(&mut self, done: &mut Vec<u64>) {
        self.issue();
        self.cycle += 1;
        self.for_active(|d, ch| {
            while let Some(&(at, id, arrival)) = d.in_flight[ch].front() {
                if at > d.cycle {
                    break;
                }
                d.in_flight[ch].pop_front();
                d.pending -= 1;
                let latency = at - arrival;
                d.stats.total_latency_cycles += latency;
                d.stats.max_latency_cycles = d.stats.max_latency_cycles.max(latency);
                done.push(id);
            }
            if d.in_flight[ch].is_empty() && d.queues[ch].is_empty() {
                d.active[ch / 64] &= !(1u64 << (ch % 64));
            }
        });
        self.stats.cycles = self.cycle;
    }

    fn cycle(&self) -> u64 {
        self.cycle
    }

    fn next_event(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        if self.pending == 0 {
            return None;
        }
        for (w, &word) in self.active.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let ch = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(&(at, _, _)) = self.in_flight[ch].front() {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
                if !self.queues[ch].is_empty() {
                    let at = self.bus_free[ch].max(self.cycle) + 1;
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        next
    }

    fn advance_to(&mut self, cycle: u64, done: &mut Vec<u64>) {
        while self.cycle < cycle {
            match self.next_event() {
                // Nothing can happen before `next`: jump to the cycle before it.
                Some(next) if next > self.cycle + 1 => self.cycle = (next - 1).min(cycle),
                None => self.cycle = cycle,
                _ => {}
            }
            if self.cycle < cycle {
                self.tick(done);
            }
        }
        self.stats.cycles = self.cycle;
    }

    fn pending(&self) -> usize {
        self.pending
    }

    fn stats(&self) -> DramStats {
        self.stats.clone()
    }

    fn request_bytes(&self) -> u32 {
        self.request_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_reaches_peak_and_latency_is_fixed() {
        let mut d = SimpleDram::new(2, 32, 1, 28, 8);
        let mut done = Vec::new();
        let mut next_id = 0u64;
        let total = 1000u64;
        while (done.len() as u64) < total {
            while next_id < total {
                let req = DramRequest {
                    id: next_id,
                    addr: next_id * 32,
                    is_write: false,
                };
                if d.enqueue(req).is_err() {
                    break;
                }
                next_id += 1;
            }
            d.tick(&mut done);
        }
        // 1000 transactions over 2 channels at one per cycle each, plus the latency.
        assert_eq!(d.cycle(), 500 + 28);
        assert_eq!(d.stats().bytes_read, 32_000);
    }

    #[test]
    fn advance_to_matches_ticking() {
        let run = |jump: bool| {
            let mut d = SimpleDram::new(4, 32, 2, 30, 4);
            let mut done = Vec::new();
            for i in 0..10u64 {
                d.enqueue(DramRequest {
                    id: i,
                    addr: i * 96,
                    is_write: false,
                })
                .unwrap();
            }
            if jump {
                d.advance_to(200, &mut done);
            } else {
                for _ in 0..200 {
                    d.tick(&mut done);
                }
            }
            (done, d.stats())
        };
        assert_eq!(run(true), run(false));
    }

    #[test]
    fn channel_of_is_the_division_formula_for_any_counts() {
        for (channels, bytes) in [(4u32, 32u32), (3, 32), (4, 48), (70, 64), (1, 1)] {
            let d = SimpleDram::new(channels, bytes, 1, 10, 4);
            for addr in (0..5000u64).map(|k| k * 7 + (k << 20)) {
                assert_eq!(
                    d.channel_of(addr) as u64,
                    (addr / bytes as u64) % channels as u64,
                    "{channels} channels, {bytes} B, address {addr}"
                );
            }
        }
    }

    #[test]
    fn advance_to_matches_ticking_on_many_channels() {
        // 70 channels: the active-channel set spans two mask words.
        let run = |jump: bool| {
            let mut d = SimpleDram::new(70, 32, 3, 20, 2);
            let mut done = Vec::new();
            let mut order = Vec::new();
            for i in 0..300u64 {
                let _ = d.enqueue(DramRequest {
                    id: i,
                    addr: (i * 2654435761) % 100_000 * 32,
                    is_write: i % 3 == 0,
                });
            }
            let mut c = 0;
            while c < 400 {
                c += 7;
                if jump {
                    d.advance_to(c, &mut done);
                } else {
                    while d.cycle() < c {
                        d.tick(&mut done);
                    }
                }
                order.push(done.clone());
            }
            assert_eq!(d.pending(), 0);
            (order, d.stats())
        };
        let (a, b) = (run(true), run(false));
        assert!(a.1.reads + a.1.writes > 100);
        assert_eq!(a, b);
    }
}
