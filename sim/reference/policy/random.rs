//! Random eviction: the same budget as the policy under test, filled by a seeded
//! pseudo-random score per (layer, token) through the same top-k engine: the control.

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    Policy {
        kind: PolicyKind::Random,
        score: ScoreSource::Seeded,
        reducer: Reducer::SumOverHeads {
            across_iterations: false,
        },
        selector: Selector::TopK {
            budget: LayerBudget::Uniform(s.budget),
            sinks: 0,
            window: 0,
        },
        granularity: Granularity::Token,
        schedule: Schedule {
            dense_layers: s.dense_layers(0),
            fires: Fires::EveryStep { n: s.every },
        },
    }
}
