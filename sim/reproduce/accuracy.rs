//! Item 4: accuracy against pruning ratio on the real model (STS-B dev Spearman of
//! all-MiniLM-L6-v2 with the reference's pruning inside the forward pass).
//!
//! Not run yet: it needs a closed-loop attention kernel that applies the reference's token
//! and head pruning inside the model's forward pass (`crate::model::ReferenceAttention`),
//! which is not in this branch. Until then the reproduction writes no accuracy numbers
//! rather than numbers from a different method.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyRow {
    /// "token pruning" or "head pruning".
    pub study: String,
    pub ratio: f64,
    pub pairs: usize,
    pub spearman: f64,
}
