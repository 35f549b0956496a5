//! Dense attention: every key of every head, nothing pruned (the accuracy reference).

use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble() -> Policy {
    Policy {
        kind: PolicyKind::Dense,
        score: ScoreSource::None,
        reducer: Reducer::PerHead,
        selector: Selector::All,
        granularity: Granularity::Token,
        schedule: Schedule {
            dense_layers: 0,
            fires: Fires::Never,
        },
    }
}
