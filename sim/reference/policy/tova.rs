//! TOVA (Oren et al., 2024): the current query's attention, averaged over heads, keeps a
//! fixed budget; the lowest are evicted every step.

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    Policy {
        kind: PolicyKind::Tova,
        score: ScoreSource::CurrentQuery,
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
