//! Bounded FIFOs with ready/valid semantics, counted in elements, and fixed-latency delay
//! lines. Occupancy histograms are kept by events (the cycles spent at each occupancy are
//! added when the occupancy changes), so skipping idle cycles records exactly what stepping
//! them would.

use std::collections::VecDeque;

use super::stats::FifoStats;

/// Items that a consumer may take part of (a chunk of scores, say).
pub trait Split: Sized {
    /// Removes and returns the first `n` elements; `self` keeps the rest.
    fn split_front(&mut self, n: u32) -> Self;
}

/// A bounded FIFO of items, each worth `n` elements of the capacity. Producers with a
/// pipeline in front of the FIFO reserve space when they start an item, so a full FIFO
/// stalls the producer's input rather than its pipeline.
#[derive(Debug)]
pub struct Fifo<T> {
    name: String,
    capacity: u32,
    len: u32,
    reserved: u32,
    items: VecDeque<(T, u32)>,
    histogram: Vec<u64>,
    last_change: u64,
    max_len: u32,
}

impl<T> Fifo<T> {
    pub fn new(name: impl Into<String>, capacity: u32) -> Self {
        Self {
            name: name.into(),
            capacity,
            len: 0,
            reserved: 0,
            items: VecDeque::new(),
            histogram: vec![0; capacity as usize + 1],
            last_change: 0,
            max_len: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Elements stored (not counting reservations).
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn reserved(&self) -> u32 {
        self.reserved
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Elements a producer may still add or reserve.
    pub fn free(&self) -> u32 {
        self.capacity - self.len - self.reserved
    }

    fn touch(&mut self, now: u64) {
        self.histogram[self.len as usize] += now - self.last_change;
        self.last_change = now;
    }

    pub fn reserve(&mut self, n: u32) {
        debug_assert!(n <= self.free());
        self.reserved += n;
    }

    /// Pushes an item whose space was reserved earlier.
    pub fn push_reserved(&mut self, now: u64, item: T, n: u32) {
        debug_assert!(n <= self.reserved);
        self.reserved -= n;
        self.touch(now);
        self.len += n;
        self.max_len = self.max_len.max(self.len);
        self.items.push_back((item, n));
    }

    /// Pushes an item the caller has checked fits (`n <= free()`).
    #[inline]
    pub fn push(&mut self, now: u64, item: T, n: u32) {
        debug_assert!(n <= self.free());
        self.touch(now);
        self.len += n;
        self.max_len = self.max_len.max(self.len);
        self.items.push_back((item, n));
    }

    /// Pushes an item if it fits (valid and ready in the same cycle).
    pub fn try_push(&mut self, now: u64, item: T, n: u32) -> bool {
        if n > self.free() {
            return false;
        }
        self.reserved += n;
        self.push_reserved(now, item, n);
        true
    }

    pub fn front(&self) -> Option<(&T, u32)> {
        self.items.front().map(|(t, n)| (t, *n))
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.items.get_mut(index).map(|(t, _)| t)
    }

    pub fn pop(&mut self, now: u64) -> Option<(T, u32)> {
        let (item, n) = self.items.pop_front()?;
        self.touch(now);
        self.len -= n;
        Some((item, n))
    }

    pub fn stats(&self, end: u64) -> FifoStats {
        let mut histogram = self.histogram.clone();
        histogram[self.len as usize] += end.saturating_sub(self.last_change);
        FifoStats {
            capacity: self.capacity,
            max_occupancy: self.max_len,
            final_occupancy: self.len,
            occupancy_cycles: histogram
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c > 0)
                .map(|(occupancy, &c)| (occupancy as u32, c))
                .collect(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {}/{} (+{} reserved)",
            self.name, self.len, self.capacity, self.reserved
        )
    }
}

impl<T: PartialEq> Fifo<T> {
    /// Whether the FIFO holds at least one item and every item is `item` of `n` elements: a
    /// consumer taking one whole item per cycle while the producer pushes the same one leaves
    /// it unchanged.
    pub fn holds_only(&self, item: &T, n: u32) -> bool {
        !self.items.is_empty() && self.items.iter().all(|(t, m)| t == item && *m == n)
    }
}

impl<T: Split> Fifo<T> {
    /// Takes up to `n` elements of the front item.
    pub fn take(&mut self, now: u64, n: u32) -> Option<(T, u32)> {
        let (front, have) = self.items.front_mut()?;
        if n >= *have {
            return self.pop(now);
        }
        let part = front.split_front(n);
        *have -= n;
        self.touch(now);
        self.len -= n;
        Some((part, n))
    }
}

/// A fixed-latency pipeline: items leave in order once their ready cycle has come.
#[derive(Debug, Clone)]
pub struct DelayLine<T> {
    items: VecDeque<(u64, T)>,
    /// Whether ready cycles have strictly increased (at most one item enters per cycle).
    strict: bool,
    /// At most the number of items at the back equal to the last one (at least 1 when not
    /// empty): equal to the length when all items are alike, which `steady_output` then sees
    /// without a scan.
    alike: usize,
}

impl<T> Default for DelayLine<T> {
    fn default() -> Self {
        Self {
            items: VecDeque::new(),
            strict: true,
            alike: 0,
        }
    }
}

impl<T: PartialEq> DelayLine<T> {
    pub fn push(&mut self, ready: u64, item: T) {
        debug_assert!(self.items.back().is_none_or(|(r, _)| *r <= ready));
        self.alike = match self.items.back() {
            Some((r, last)) => {
                self.strict &= *r < ready;
                if *last == item { self.alike + 1 } else { 1 }
            }
            None => 1,
        };
        self.items.push_back((ready, item));
    }

    pub fn pop_ready(&mut self, now: u64) -> Option<T> {
        if self.items.front().is_some_and(|(r, _)| *r <= now) {
            let item = self.items.pop_front().map(|(_, t)| t);
            self.alike = self.alike.min(self.items.len());
            item
        } else {
            None
        }
    }

    pub fn peek_ready(&self, now: u64) -> Option<&T> {
        self.items
            .front()
            .filter(|(r, _)| *r <= now)
            .map(|(_, t)| t)
    }

    /// The newest item and its ready cycle.
    pub fn back_mut(&mut self) -> Option<(&u64, &mut T)> {
        self.alike = self.alike.min(1);
        self.items.back_mut().map(|(r, t)| (&*r, t))
    }

    /// Ready cycle of the oldest item.
    pub fn next_ready(&self) -> Option<u64> {
        self.items.front().map(|(r, _)| *r)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Delays every item by `cycles`.
    fn delay(&mut self, cycles: u64) {
        for (r, _) in &mut self.items {
            *r += cycles;
        }
    }
}

impl<T: PartialEq + Clone> DelayLine<T> {
    /// For a pipeline of `latency` cycles whose unit pushes `push` (or nothing) every cycle,
    /// seen after cycle `now`: the item that leaves it in each of the next cycles (or none),
    /// and for how many cycles that stays so. Items leave one per cycle while their ready
    /// cycles follow each other; a full line of equal items fed the same item leaves one such
    /// item every cycle for ever.
    pub fn steady_output(&self, now: u64, push: Option<&T>, latency: u64) -> (Option<T>, u64) {
        if latency == 0 {
            return (None, 0);
        }
        let Some((first, item)) = self.items.front() else {
            let cycles = if push.is_some() { latency } else { u64::MAX };
            return (None, cycles);
        };
        if *first > now + 1 {
            return (None, first - now - 1);
        }
        if *first <= now {
            // Held back by a full output: not a steady flow.
            return (None, 0);
        }
        let len = self.items.len() as u64;
        let back = self.items.back().map_or(0, |(r, _)| *r);
        // Ready cycles strictly increase, so first and last tell whether they follow each other.
        let run = if self.strict && self.alike as u64 == len && back == now + len {
            len
        } else {
            self.items
                .iter()
                .zip(now + 1..)
                .take_while(|((r, t), at)| r == at && t == item)
                .count() as u64
        };
        let cycles = if run == latency && run == len && push == Some(item) {
            u64::MAX
        } else if run == len && push.is_none() {
            // The cycle that empties the line is stepped: units report busy while it holds
            // anything.
            run - 1
        } else {
            run
        };
        (Some(item.clone()), cycles)
    }

    /// Applies `cycles` cycles after `now` in which one item left (when `pops`) and `push`
    /// entered (when some), as `steady_output` predicted.
    pub fn repeat(&mut self, now: u64, cycles: u64, pops: bool, push: Option<&T>, latency: u64) {
        let conveyor = pops
            && self.items.len() as u64 == latency
            && self.items.iter().all(|(_, t)| Some(t) == push);
        if conveyor {
            // The same items, later.
            self.delay(cycles);
            return;
        }
        // Outside a full conveyor `steady_output` allows at most as many cycles as there are
        // items, so every item leaving is one that is here now.
        if pops {
            debug_assert!(cycles as usize <= self.items.len());
            self.items.drain(..cycles as usize);
            self.alike = self.alike.min(self.items.len());
        }
        if let Some(item) = push {
            if cycles > 0 {
                self.alike = match self.items.back() {
                    Some((_, last)) if last == item => self.alike + cycles as usize,
                    _ => cycles as usize,
                };
            }
            let first = now + 1 + latency;
            self.items
                .extend((first..first + cycles).map(|r| (r, item.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps a pipeline cycle by cycle as the units do: the ready item leaves, then `push`
    /// enters with `latency`; returns what left in each cycle.
    fn step(line: &mut DelayLine<u8>, now: u64, push: Option<u8>, latency: u64) -> Option<u8> {
        let out = line.pop_ready(now);
        if let Some(p) = push {
            line.push(now + latency, p);
        }
        out
    }

    #[test]
    fn steady_output_predicts_what_stepping_does() {
        let mut cases = 0;
        for latency in 1..5u64 {
            for start in 0..(1u32 << 6) {
                // Build a line by stepping a unit that pushes item (bit & 1) + 1 or nothing.
                let mut line = DelayLine::default();
                let mut now = 0;
                for bit in 0..6 {
                    let b = (start >> bit) & 3;
                    let push = (b != 0).then_some(if b == 1 { 1 } else { 2 });
                    step(&mut line, now, push, latency);
                    now += 1;
                }
                let now = now - 1;
                for push in [None, Some(1u8), Some(2)] {
                    let (out, cycles) = line.steady_output(now, push.as_ref(), latency);
                    let k = cycles.min(12);
                    let mut stepped = line.clone();
                    for t in now + 1..=now + k {
                        assert_eq!(step(&mut stepped, t, push, latency), out, "cycle {t}");
                    }
                    let mut jumped = line.clone();
                    jumped.repeat(now, k, out.is_some(), push.as_ref(), latency);
                    assert_eq!(jumped.items, stepped.items);
                    cases += (k > 0) as u32;
                }
            }
        }
        assert!(cases > 100);
    }
}
