//! H2O heavy hitters (Zhang et al., NeurIPS'23): attention received, accumulated over the
//! decode steps, keeps the heaviest tokens plus a recent window (half the budget each by
//! default); evicts every step. Heads of a layer share one ranking here (SpAtten's token
//! engine ranks one score per token), where the paper ranks per head.

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    Policy {
        kind: PolicyKind::H2o,
        score: ScoreSource::AccumulatedProbability,
        reducer: Reducer::SumOverHeads {
            across_iterations: true,
        },
        selector: Selector::TopK {
            budget: LayerBudget::Uniform(s.budget),
            sinks: s.sinks(0),
            window: s.window(s.budget / 2),
        },
        granularity: Granularity::Token,
        schedule: Schedule {
            dense_layers: s.dense_layers(0),
            fires: Fires::EveryStep { n: s.every },
        },
    }
}
