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
            stats: DramStats::default(),
        }
    }

    fn issue(&mut self) {
        for ch in 0..self.channels as usize {
            if self.bus_free[ch] <= self.cycle
                && let Some((req, arrival)) = self.queues[ch].pop_front()
            {
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
        ((addr / self.request_bytes as u64) % self.channels as u64) as u32
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
        Ok(())
    }

    fn tick(&mut self, done: &mut Vec<u64>) {
        self.issue();
        self.cycle += 1;
        for ch in 0..self.channels as usize {
            while let Some(&(at, id, arrival)) = self.in_flight[ch].front() {
                if at > self.cycle {
                    break;
                }
                self.in_flight[ch].pop_front();
                let latency = at - arrival;
                self.stats.total_latency_cycles += latency;
                self.stats.max_latency_cycles = self.stats.max_latency_cycles.max(latency);
                done.push(id);
            }
        }
        self.stats.cycles = self.cycle;
    }

    fn cycle(&self) -> u64 {
        self.cycle
    }

    fn next_event(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        for ch in 0..self.channels as usize {
            if let Some(&(at, _, _)) = self.in_flight[ch].front() {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
            if !self.queues[ch].is_empty() {
                let at = self.bus_free[ch].max(self.cycle) + 1;
                next = Some(next.map_or(at, |n| n.min(at)));
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
        self.queues.iter().map(VecDeque::len).sum::<usize>()
            + self.in_flight.iter().map(VecDeque::len).sum::<usize>()
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
                let req = DramRequest { id: next_id, addr: next_id * 32, is_write: false };
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
                d.enqueue(DramRequest { id: i, addr: i * 96, is_write: false }).unwrap();
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
}
