//! SpAtten (HPCA'21): cascade token pruning by accumulated attention probability, plus head
//! and local V pruning. Its decisions are made by `reference::layer` exactly as before
//! policies existed; this file only describes its parts.

use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble() -> Policy {
    Policy {
        kind: PolicyKind::Spatten,
        score: ScoreSource::AccumulatedProbability,
        reducer: Reducer::SumOverHeads {
            across_iterations: true,
        },
        selector: Selector::TopK {
            budget: LayerBudget::CascadeSchedule,
            sinks: 0,
            window: 0,
        },
        granularity: Granularity::Token,
        schedule: Schedule {
            dense_layers: 0,
            fires: Fires::EveryStep { n: 1 },
        },
    }
}
