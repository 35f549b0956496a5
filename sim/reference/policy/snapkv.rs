//! SnapKV (Li et al., 2024): the attention of the last W prompt queries (the observation
//! window), pooled over neighbouring keys, keeps the top prompt keys plus the window itself;
//! once, after the prompt. Heads of a layer share one ranking here (the paper ranks per head).

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    let queries = s.observation_window();
    Policy {
        kind: PolicyKind::Snapkv,
        score: ScoreSource::ObservationWindow {
            queries,
            pool_kernel: s.pool_kernel(),
        },
        reducer: Reducer::SumOverHeads {
            across_iterations: false,
        },
        selector: Selector::TopK {
            budget: LayerBudget::Uniform(s.budget.max(queries)),
            sinks: 0,
            window: queries,
        },
        granularity: Granularity::Token,
        schedule: Schedule {
            dense_layers: s.dense_layers(0),
            fires: Fires::AfterPrompt,
        },
    }
}
