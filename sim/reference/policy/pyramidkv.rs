//! PyramidKV (Cai et al., 2024): SnapKV's scores and selection with per-layer budgets that
//! decrease with depth, arithmetically from 2B - B/beta at the first layer to B/beta at the
//! last (B the average budget, beta 20 by default).

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    let queries = s.observation_window();
    let b = s.budget as f64;
    let last = ((b / s.pyramid_beta()).round() as u32).max(queries).max(1);
    let first = ((2.0 * b) as u32).saturating_sub(last).max(last);
    Policy {
        kind: PolicyKind::Pyramidkv,
        score: ScoreSource::ObservationWindow {
            queries,
            pool_kernel: s.pool_kernel(),
        },
        reducer: Reducer::SumOverHeads {
            across_iterations: false,
        },
        selector: Selector::TopK {
            budget: LayerBudget::Pyramid { first, last },
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
