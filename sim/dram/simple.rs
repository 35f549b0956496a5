//! A bandwidth / latency DRAM model: each channel starts one transaction every
//! `request_bytes / channel_bytes_per_cycle` cycles (at least one) and completes it a fixed
//! latency later. No banks, rows or refresh: the command-level model is in `hbm`.

use std::collections::VecDeque;

use super::{Dram, DramRequest, DramStats};
use crate::config::HbmConfig;

/// A bandwidth / latency DRAM model.
///
/// A channel serves its requests in arrival order, so a request's issue cycle is known when
/// it arrives: the later of its arrival and the bus becoming free after the one before.
/// Requests are therefore scheduled on arrival, and a cycle only returns completions. The
/// queue a caller sees (for `can_accept`) is the requests whose issue cycle has not passed:
/// they issue back to back up to the cycle the bus is free again, so they number
/// `(bus_free - cycle) / occupancy`.
#[derive(Debug, Clone)]
pub struct SimpleDram {
    channels: u32,
    request_bytes: u32,
    /// Cycles one transaction occupies its channel's data bus.
    occupancy_cycles: u64,
    latency_cycles: u64,
    queue_depth: usize,
    cycle: u64,
    /// Cycle at which each channel's bus is free after its last scheduled request.
    bus_free: Vec<u64>,
    /// (completion cycle, id, arrival, is write) per channel, in issue order (so completions
    /// are monotone and the queued requests are the last ones).
    in_flight: Vec<VecDeque<(u64, u64, u64, bool)>>,
    /// Bit `ch % 64` of word `ch / 64` set while channel `ch` has a request in flight:
    /// `tick` visits only those channels (in ascending order, as a full scan would).
    active: Vec<u64>,
    /// Requests queued or in flight, over all channels.
    pending: usize,
    /// `channel_of` by shift and mask when both counts are powers of two (else division).
    pow2: Option<(u32, u64)>,
    /// Counters, with every scheduled request counted as issued (see `stats`).
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

    /// A channel takes at least one cycle per transaction (`occupancy_cycles` below 1 counts
    /// as 1).
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
            occupancy_cycles: occupancy_cycles.max(1),
            latency_cycles,
            queue_depth,
            cycle: 0,
            bus_free: vec![0; channels as usize],
            in_flight: vec![VecDeque::new(); channels as usize],
            active: vec![0; (channels as usize).div_ceil(64)],
            pending: 0,
            pow2: (request_bytes.is_power_of_two() && channels.is_power_of_two())
                .then(|| (request_bytes.trailing_zeros(), channels as u64 - 1)),
            stats: DramStats::default(),
        }
    }

    /// Requests of channel `ch` that have not issued by the current cycle (they issue in
    /// this cycle's tick or later).
    fn queued(&self, ch: usize) -> usize {
        (self.bus_free[ch].saturating_sub(self.cycle) / self.occupancy_cycles) as usize
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
        self.queued(self.channel_of(addr) as usize) < self.queue_depth
    }

    fn enqueue(&mut self, req: DramRequest) -> Result<(), DramRequest> {
        let ch = self.channel_of(req.addr) as usize;
        if self.queued(ch) >= self.queue_depth {
            return Err(req);
        }
        let issue = self.bus_free[ch].max(self.cycle);
        self.bus_free[ch] = issue + self.occupancy_cycles;
        let done_at = issue + self.occupancy_cycles + self.latency_cycles;
        self.in_flight[ch].push_back((done_at, req.id, self.cycle, req.is_write));
        self.active[ch / 64] |= 1u64 << (ch % 64);
        self.pending += 1;
        if req.is_write {
            self.stats.writes += 1;
            self.stats.bytes_written += self.request_bytes as u64;
        } else {
            self.stats.reads += 1;
            self.stats.bytes_read += self.request_bytes as u64;
        }
        Ok(())
    }

    fn tick(&mut self, done: &mut Vec<u64>) {
        self.cycle += 1;
        for w in 0..self.active.len() {
            let mut bits = self.active[w];
            while bits != 0 {
                let ch = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let q = &mut self.in_flight[ch];
                while let Some(&(at, id, arrival, _)) = q.front() {
                    if at > self.cycle {
                        break;
                    }
                    q.pop_front();
                    self.pending -= 1;
                    let latency = at - arrival;
                    self.stats.total_latency_cycles += latency;
                    self.stats.max_latency_cycles = self.stats.max_latency_cycles.max(latency);
                    done.push(id);
                }
                if q.is_empty() {
                    self.active[w] &= !(1u64 << (ch % 64));
                }
            }
        }
        self.stats.cycles = self.cycle;
    }

    fn cycle(&self) -> u64 {
        self.cycle
    }

    /// The next completion, or the cycle after the next issue (which frees a queue slot).
    fn next_event(&self) -> Option<u64> {
        if self.pending == 0 {
            return None;
        }
        let mut next = u64::MAX;
        for (w, &word) in self.active.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let ch = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(&(at, _, _, _)) = self.in_flight[ch].front() {
                    next = next.min(at);
                }
                let queued = self.queued(ch) as u64;
                if queued > 0 {
                    // The tick of the first queued request's issue cycle.
                    next = next.min(self.bus_free[ch] - queued * self.occupancy_cycles + 1);
                }
            }
        }
        Some(next)
    }

    fn advance_to(&mut self, cycle: u64, done: &mut Vec<u64>) {
        if cycle == self.cycle + 1 {
            // One cycle: ticking it is exact and cheaper than looking for the next event.
            self.tick(done);
            return;
        }
        while self.cycle < cycle {
            match self.next_event() {
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

    /// Reads and writes count the requests issued by now (scheduled ones that have not are
    /// taken off).
    fn stats(&self) -> DramStats {
        let mut s = self.stats.clone();
        let bytes = self.request_bytes as u64;
        for (ch, q) in self.in_flight.iter().enumerate() {
            for &(_, _, _, is_write) in q.iter().skip(q.len() - self.queued(ch)) {
                if is_write {
                    s.writes -= 1;
                    s.bytes_written -= bytes;
                } else {
                    s.reads -= 1;
                    s.bytes_read -= bytes;
                }
            }
        }
        s
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
    /// The model as first written, stepping queues every cycle: requests wait in a FIFO per
    /// channel and issue when the bus is free. Scheduling on arrival must match it exactly.
    struct Stepped {
        occupancy: u64,
        latency: u64,
        depth: usize,
        cycle: u64,
        queues: Vec<VecDeque<(u64, u64)>>,
        bus_free: Vec<u64>,
        in_flight: Vec<VecDeque<(u64, u64)>>,
        issued: u64,
    }

    impl Stepped {
        fn tick(&mut self, done: &mut Vec<u64>) {
            for ch in 0..self.queues.len() {
                if self.bus_free[ch] <= self.cycle
                    && let Some((id, _)) = self.queues[ch].pop_front()
                {
                    self.bus_free[ch] = self.cycle + self.occupancy;
                    let at = self.cycle + self.occupancy + self.latency;
                    self.in_flight[ch].push_back((at, id));
                    self.issued += 1;
                }
            }
            self.cycle += 1;
            for q in &mut self.in_flight {
                while q.front().is_some_and(|&(at, _)| at <= self.cycle) {
                    done.push(q.pop_front().unwrap().1);
                }
            }
        }
    }

    #[test]
    fn scheduling_on_arrival_matches_stepping_queues() {
        use rand::{Rng, SeedableRng};
        for seed in 0..20u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let (channels, occupancy, latency, depth) = (
                rng.gen_range(1..6u32),
                rng.gen_range(1..4u64),
                rng.gen_range(0..30u64),
                rng.gen_range(1..6usize),
            );
            let mut fast = SimpleDram::new(channels, 32, occupancy, latency, depth);
            let mut slow = Stepped {
                occupancy,
                latency,
                depth,
                cycle: 0,
                queues: vec![VecDeque::new(); channels as usize],
                bus_free: vec![0; channels as usize],
                in_flight: vec![VecDeque::new(); channels as usize],
                issued: 0,
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut id = 0;
            for _ in 0..400 {
                for _ in 0..rng.gen_range(0..4) {
                    let addr = rng.gen_range(0..1000u64) * 32;
                    let ch = fast.channel_of(addr) as usize;
                    let room = slow.queues[ch].len() < slow.depth;
                    assert_eq!(fast.can_accept(addr, false), room, "seed {seed}");
                    let req = DramRequest {
                        id,
                        addr,
                        is_write: false,
                    };
                    assert_eq!(fast.enqueue(req).is_ok(), room, "seed {seed}");
                    if room {
                        slow.queues[ch].push_back((id, slow.cycle));
                    }
                    id += 1;
                }
                fast.tick(&mut a);
                slow.tick(&mut b);
                assert_eq!(a, b, "seed {seed}");
                assert_eq!(fast.stats().reads, slow.issued, "seed {seed}");
            }
        }
    }
}
