//! The two quick-select top-k engines.
//!
//! Cost of one call with P comparators per array (the public SpAtten RTL, github.com/mit-han-lab/spatten, RTL latency model): every
//! recorded round streams its n_r elements, ceil(n_r / P) cycles plus `round_overhead_cycles`;
//! the filter pass streams all n again, ceil(n / P) plus `filter_overhead_cycles`.
//!
//! FIFO capacity: the local-V engine receives the probabilities through its input FIFO
//! (`fifo_depth` elements, back-pressuring the requant unit), consuming P per cycle; that
//! stream is the first round's pass, so the rounds' remaining cycles follow it. Its filter
//! pass emits the kept probabilities at P per cycle into the ProbxV FIFO, waiting when it is
//! full. The head's V rows are requested when the filter pass starts: the rounds have fixed
//! the kept set by then, and ProbxV needs those rows to drain the FIFO the filter fills (a
//! kept row longer than the FIFO would otherwise deadlock). With
//! `controller.local_v_waits_for_pv` the engine stays in its filter pass until ProbxV has
//! taken every kept probability, so the next head's input and selection (and its V fetch)
//! wait for ProbxV, which waits for this head's V rows. Without it (the public RTL) the
//! filter pass writes into a buffer that holds one head's kept probabilities and drains into
//! the ProbxV FIFO one beat per cycle; the engine is free as soon as its filter cycles are
//! done, and the next head's filter pass waits only until the buffer holds no other head's
//! probabilities.
//!
//! Hierarchical selection (`candidate_entries` below a row's keys, SPEC.md 6.4): a call's
//! stages each cost their rounds and a filter pass over their candidates. The local-V
//! engine takes a row's probabilities a tile at a time: each tile's input stream is its
//! first round; after each tile but the last the input waits for the tile's other rounds and
//! its filter pass into the winners; after the last, the levels over the winners run and the
//! final filter pass emits the kept probabilities. The token/head engine works
//! on the on-chip importance scores, so only its cycle count applies; the next layer's heads
//! are not opened before it finishes (their keys depend on it).

use std::collections::VecDeque;

use super::Chunk;
use super::fifo::Fifo;
use super::stats::Activity;
use super::stride::{Stride, cycles_before, cycles_below};
use crate::config::arch::TopkConfig;
use crate::trace::attention::{HeadCall, TopkCall};

/// Cycles of one call run at full rate: every quick-select of it (the one over all n, or a
/// hierarchical selection's stages) runs its rounds, then its filter pass over its n.
pub fn topk_call_cycles(call: &TopkCall, cfg: &TopkConfig) -> u64 {
    stage_cycles(call, cfg).iter().sum()
}

/// [`topk_call_cycles`] of each of the call's quick-selects ([`TopkCall::stage_list`]).
fn stage_cycles(call: &TopkCall, cfg: &TopkConfig) -> Vec<u64> {
    let p = cfg.comparators as u64;
    let mut rounds = call.rounds.iter();
    call.stage_list()
        .iter()
        .map(|s| {
            let r: u64 = rounds
                .by_ref()
                .take(s.rounds as usize)
                .map(|&n| (n as u64).div_ceil(p) + cfg.round_overhead_cycles as u64)
                .sum();
            r + (s.n as u64).div_ceil(p) + cfg.filter_overhead_cycles as u64
        })
        .collect()
}

/// Elements one call streams through the comparators: each round's n_r through both arrays,
/// then each quick-select's filter pass over its n.
pub fn topk_call_comparisons(call: &TopkCall) -> u64 {
    2 * call.rounds.iter().map(|&n| n as u64).sum::<u64>()
        + call.stage_list().iter().map(|s| s.n as u64).sum::<u64>()
}

/// When the local-V engine runs a call: after each tile of its input but the last it pauses
/// the input for the tile's quick-select (its rounds but the first, which is the input
/// stream itself, and its filter pass into the winners); after the last tile it runs the
/// rest but the final filter pass, which emits the kept probabilities. A call over all n is
/// one tile: no pauses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValueSchedule {
    /// Input elements at the end of each tile but the last, with the pause that follows it.
    pauses: Vec<(u64, u64)>,
    /// Cycles after the input is complete and before the final filter pass.
    rest: u64,
    /// Cycles of the final filter pass, over the last quick-select's candidates.
    filter: u64,
}

impl ValueSchedule {
    fn new(call: &TopkCall, cfg: &TopkConfig, input: u64) -> Self {
        let p = cfg.comparators as u64;
        let filter =
            (call.final_candidates() as u64).div_ceil(p) + cfg.filter_overhead_cycles as u64;
        let cycles = stage_cycles(call, cfg);
        let stages = call.stage_list();
        // The input's tiles: the first stages, up to n candidates (all of them for one stage).
        let mut tiles = 0;
        let mut got = 0u64;
        while got < call.n as u64 && tiles < stages.len() {
            got += stages[tiles].n as u64;
            tiles += 1;
        }
        let mut pauses = Vec::with_capacity(tiles.saturating_sub(1));
        let mut end = 0u64;
        for (s, &c) in stages.iter().zip(&cycles).take(tiles - 1) {
            end += s.n as u64;
            pauses.push((end, c - (s.n as u64).div_ceil(p)));
        }
        let rest = if tiles == 1 {
            // A call over all n streams `input` elements (its queries' rows) as its first round.
            cycles
                .iter()
                .sum::<u64>()
                .saturating_sub(input.div_ceil(p) + filter)
        } else {
            let last = stages[tiles - 1].n as u64;
            (cycles[tiles - 1] - last.div_ceil(p) + cycles[tiles..].iter().sum::<u64>())
                .saturating_sub(filter)
        };
        Self {
            pauses,
            rest,
            filter,
        }
    }

    /// The input element count at which the engine next pauses, past `got`.
    fn boundary(&self, got: u64, need: u64) -> u64 {
        self.pauses
            .iter()
            .map(|&(end, _)| end)
            .find(|&end| end > got)
            .unwrap_or(need)
    }

    fn pause_at(&self, got: u64) -> Option<u64> {
        self.pauses
            .iter()
            .find(|&&(end, _)| end == got)
            .map(|&(_, c)| c)
    }
}

#[derive(Debug)]
enum ValueState {
    Idle,
    Input {
        call: u32,
        got: u64,
    },
    /// Between tiles of a hierarchical selection: the input waits until `until`.
    Pause {
        call: u32,
        got: u64,
        until: u64,
    },
    Rounds {
        call: u32,
        until: u64,
    },
    Filter {
        call: u32,
        emitted: u64,
        until: u64,
    },
}

#[derive(Debug)]
pub struct ValueTopk {
    cfg: TopkConfig,
    state: ValueState,
    waits_for_pv: bool,
    /// The kept-probability buffer between the filter pass and ProbxV (one head's worth).
    held: VecDeque<(Chunk, u32)>,
    /// The running call's schedule (set when its input starts).
    schedule: Option<ValueSchedule>,
    pub calls: u64,
    pub comparisons: u64,
}

impl ValueTopk {
    pub fn new(cfg: &TopkConfig, waits_for_pv: bool) -> Self {
        Self {
            cfg: cfg.clone(),
            state: ValueState::Idle,
            waits_for_pv,
            held: VecDeque::new(),
            schedule: None,
            calls: 0,
            comparisons: 0,
        }
    }

    pub fn next_event(&self) -> Option<u64> {
        match self.state {
            ValueState::Rounds { until, .. }
            | ValueState::Pause { until, .. }
            | ValueState::Filter { until, .. } => Some(until),
            _ => None,
        }
    }

    pub fn is_drained(&self) -> bool {
        matches!(self.state, ValueState::Idle) && self.held.is_empty()
    }

    pub fn describe(&self) -> String {
        format!("topk_value {:?}", self.state)
    }

    /// What each of the next cycles does: nothing while idle or counting down, taking the
    /// same beat while the first round's input streams in (see `stride`). The filter pass is
    /// always stepped.
    pub fn stride(&self, now: u64, calls: &[HeadCall], input: &Fifo<Chunk>) -> Option<Stride> {
        // The buffer drains one beat per cycle: always stepped.
        if !self.held.is_empty() {
            return None;
        }
        match self.state {
            ValueState::Idle => input
                .is_empty()
                .then(|| Stride::still(u64::MAX, Activity::Idle)),
            ValueState::Input { call, got } => match input.front() {
                Some((&chunk, b)) if b <= self.cfg.comparators => {
                    let hc = &calls[call as usize];
                    let need = hc.queries as u64 * hc.keys.len() as u64;
                    let boundary = self
                        .schedule
                        .as_ref()
                        .map_or(need, |s| s.boundary(got, need));
                    Stride::moving(
                        cycles_below(got, b as u64, boundary),
                        Some((chunk, b)),
                        [None; 3],
                    )
                    .nonzero()
                }
                Some(_) => None,
                None => Some(Stride::still(u64::MAX, Activity::StalledInput)),
            },
            ValueState::Rounds { until, .. } | ValueState::Pause { until, .. } => {
                Stride::still(cycles_before(now, Some(until)), Activity::Busy).nonzero()
            }
            ValueState::Filter {
                call,
                emitted,
                until,
            } => {
                let hc = &calls[call as usize];
                let done = emitted >= hc.queries as u64 * hc.values.len() as u64;
                if !done {
                    return None;
                }
                Stride::still(cycles_before(now, Some(until)), Activity::Busy).nonzero()
            }
        }
    }

    /// Applies `cycles` cycles of `stride`.
    pub fn repeat(&mut self, s: &Stride, cycles: u64) {
        if let (ValueState::Input { got, .. }, Some((_, n))) = (&mut self.state, s.take) {
            *got += n as u64 * cycles;
        }
    }

    pub fn step(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        topk_calls: &[TopkCall],
        input: &mut Fifo<Chunk>,
        out: &mut Fifo<Chunk>,
        selected: &mut Vec<u32>,
    ) -> (Activity, bool) {
        let p = self.cfg.comparators;
        // The kept-probability buffer feeds ProbxV first (a beat per cycle, when it has room).
        let mut drained = false;
        if let Some(&(chunk, n)) = self.held.front()
            && out.try_push(now, chunk, n)
        {
            self.held.pop_front();
            drained = true;
        }
        let (activity, progress) =
            self.step_engine(now, calls, topk_calls, input, out, selected, p);
        (activity, progress || drained)
    }

    #[allow(clippy::too_many_arguments)]
    fn step_engine(
        &mut self,
        now: u64,
        calls: &[HeadCall],
        topk_calls: &[TopkCall],
        input: &mut Fifo<Chunk>,
        out: &mut Fifo<Chunk>,
        selected: &mut Vec<u32>,
        p: u32,
    ) -> (Activity, bool) {
        let (activity, progress) = match &mut self.state {
            ValueState::Idle => match input.front() {
                Some((&chunk, _)) => {
                    self.state = ValueState::Input {
                        call: chunk.call,
                        got: 0,
                    };
                    self.calls += 1;
                    let hc = &calls[chunk.call as usize];
                    let tc = &topk_calls[hc.value_topk.expect("routed by value_topk") as usize];
                    self.comparisons += topk_call_comparisons(tc);
                    let rows = hc.queries as u64 * hc.keys.len() as u64;
                    self.schedule = Some(ValueSchedule::new(tc, &self.cfg, rows));
                    return self.step_engine(now, calls, topk_calls, input, out, selected, p);
                }
                None => (Activity::Idle, false),
            },
            ValueState::Input { call, got } => {
                let hc = &calls[*call as usize];
                let need = hc.queries as u64 * hc.keys.len() as u64;
                let sched = self.schedule.as_ref().expect("set when the input starts");
                let boundary = sched.boundary(*got, need);
                match input.take(now, (p as u64).min(boundary - *got) as u32) {
                    Some((_, n)) => {
                        *got += n as u64;
                        if *got < need
                            && let Some(pause) = sched.pause_at(*got).filter(|&c| c > 0)
                        {
                            self.state = ValueState::Pause {
                                call: *call,
                                got: *got,
                                until: now + 1 + pause,
                            };
                        } else if *got == need {
                            let rest = sched.rest;
                            let call = *call;
                            self.state = if rest > 0 {
                                ValueState::Rounds {
                                    call,
                                    until: now + 1 + rest,
                                }
                            } else {
                                selected.push(call);
                                self.filter_state(call, now)
                            };
                        }
                        (Activity::Busy, true)
                    }
                    None => (Activity::StalledInput, false),
                }
            }
            ValueState::Pause { call, got, until } => {
                if now >= *until {
                    self.state = ValueState::Input {
                        call: *call,
                        got: *got,
                    };
                    return self.step_engine(now, calls, topk_calls, input, out, selected, p);
                }
                (Activity::Busy, false)
            }
            ValueState::Rounds { call, until } => {
                if now >= *until {
                    let call = *call;
                    selected.push(call);
                    self.state = self.filter_state(call, now);
                    return self.step_engine(now, calls, topk_calls, input, out, selected, p);
                }
                (Activity::Busy, false)
            }
            ValueState::Filter {
                call,
                emitted,
                until,
            } => {
                let hc = &calls[*call as usize];
                let row = hc.values.len() as u64;
                let total = hc.queries as u64 * row;
                if *emitted < total {
                    let n = (p as u64).min(row - *emitted % row) as u32;
                    let chunk = Chunk {
                        call: *call,
                        lsb: hc.lsb_refetch,
                        block: 0,
                        sum_only: false,
                    };
                    let sent = if self.waits_for_pv {
                        out.try_push(now, chunk, n)
                    } else if self.held.iter().all(|(c, _)| c.call == *call) {
                        self.held.push_back((chunk, n));
                        true
                    } else {
                        false
                    };
                    if sent {
                        *emitted += n as u64;
                        (Activity::Busy, true)
                    } else {
                        (Activity::StalledOutput, false)
                    }
                } else if now >= *until {
                    self.state = ValueState::Idle;
                    self.schedule = None;
                    (Activity::Busy, true)
                } else {
                    (Activity::Busy, false)
                }
            }
        };
        (activity, progress)
    }

    fn filter_state(&self, call: u32, now: u64) -> ValueState {
        let cycles = self
            .schedule
            .as_ref()
            .expect("set when the input starts")
            .filter;
        ValueState::Filter {
            call,
            emitted: 0,
            until: now + cycles,
        }
    }
}

/// The token (and head) pruning engine: one job per layer record, run back to back.
#[derive(Debug)]
pub struct TokenTopk {
    queue: VecDeque<(u32, u64)>,
    running: Option<(u32, u64)>,
}

impl TokenTopk {
    pub fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            running: None,
        }
    }

    pub fn submit(&mut self, record: u32, cycles: u64) {
        self.queue.push_back((record, cycles));
    }

    pub fn next_event(&self) -> Option<u64> {
        self.running.map(|(_, until)| until)
    }

    pub fn is_drained(&self) -> bool {
        self.running.is_none() && self.queue.is_empty()
    }

    /// Nothing changes before the running job's end (see `stride`).
    pub fn stride(&self, now: u64) -> Option<Stride> {
        match self.running {
            Some((_, until)) => {
                Stride::still(cycles_before(now, Some(until)), Activity::Busy).nonzero()
            }
            None => self
                .queue
                .is_empty()
                .then(|| Stride::still(u64::MAX, Activity::Idle)),
        }
    }

    pub fn step(&mut self, now: u64, finished: &mut Vec<u32>) -> (Activity, bool) {
        let mut progress = false;
        if let Some((record, until)) = self.running
            && now >= until
        {
            finished.push(record);
            self.running = None;
            progress = true;
        }
        if self.running.is_none()
            && let Some((record, cycles)) = self.queue.pop_front()
        {
            self.running = Some((record, now + cycles));
            progress = true;
        }
        let activity = match self.running {
            Some((_, until)) if until > now => Activity::Busy,
            _ => Activity::Idle,
        };
        (activity, progress)
    }
}

impl Default for TokenTopk {
    fn default() -> Self {
        Self::new()
    }
}
