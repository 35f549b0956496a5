//! The evaluator sweeps use: the full pipeline per design point. A workload's trace depends
//! on the architecture only through its [`ReferenceDesign`](crate::trace::ReferenceDesign) (a
//! two-pass design's key tile, SPEC.md 9b; the local-V engine's candidates, 6.4), so it is
//! made once per distinct (workload, reference design) and shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::runner::Evaluator;
use crate::config::{self, ArchConfig, WorkloadConfig};
use crate::experiment::{self, DramKind, Experiment, Input};
use crate::trace::AttentionTrace;

/// Baselines whose speedups get a column.
pub const SPEEDUP_BASELINES: [&str; 2] = ["titan-xp", "xeon-e5-2640-v4"];

/// A trace made once, shared by every point of its workload (or the reason it failed).
type SharedTrace = Arc<OnceLock<Result<Arc<AttentionTrace>, String>>>;

pub struct PipelineEvaluator {
    pub dram: DramKind,
    traces: Mutex<HashMap<String, SharedTrace>>,
}

impl PipelineEvaluator {
    pub fn new(dram: DramKind) -> Self {
        Self {
            dram,
            traces: Mutex::new(HashMap::new()),
        }
    }

    /// The trace of `workload` for design points whose arithmetic is `arch`'s (the exact one
    /// when `None`).
    fn trace(
        &self,
        workload: &WorkloadConfig,
        arch: Option<&ArchConfig>,
    ) -> Result<Arc<AttentionTrace>, String> {
        let arch = match arch {
            Some(a) => a.clone(),
            None => config::load_arch("spatten").map_err(|e| e.to_string())?,
        };
        let design = config::tiles::reference_design(&arch, workload.model.head_dim);
        let key = format!("{} {design:?}", config::config_hash(workload));
        // One cell per (workload, reference design); threads wanting the same trace wait for the first
        // to make it.
        let cell = self
            .traces
            .lock()
            .expect("no panics under the lock")
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let e = Experiment {
                name: workload.name.clone(),
                arch,
                workload: Some(workload.clone()),
                input: Input::Synthetic,
                dram: self.dram,
                timeline: false,
            };
            e.build_trace(&mut |_| {})
                .map(Arc::new)
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
    }
}

impl Evaluator for PipelineEvaluator {
    fn metric_columns(&self) -> Vec<String> {
        let mut c: Vec<String> = [
            "cycles",
            "seconds",
            "gops",
            "effective_gops",
            "energy_j",
            "power_w",
            "effective_gop_per_j",
            "area_mm2",
            "effective_gops_per_mm2",
            "dram_bytes",
            "lsb_refetches",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        c.extend(SPEEDUP_BASELINES.iter().map(|b| format!("speedup_vs_{b}")));
        c
    }

    fn prepare(&self, workloads: &[&WorkloadConfig]) {
        use rayon::prelude::*;
        // A failed trace is kept in its cell and reported by each of the workload's points.
        workloads.par_iter().for_each(|w| {
            let _ = self.trace(w, None);
        });
    }

    fn evaluate(
        &self,
        arch: &ArchConfig,
        workload: &WorkloadConfig,
    ) -> Result<Vec<String>, String> {
        let trace = self.trace(workload, Some(arch))?;
        let r = experiment::evaluate(
            &workload.name,
            arch,
            workload,
            (*trace).clone(),
            &experiment::Input::Synthetic.describe(),
            self.dram,
            false,
            &mut |_| {},
        )
        .map_err(|e| format!("{e:#}"))?;
        let s = &r.stats;
        let area = r.area.total_mm2();
        let mut row = vec![
            s.cycles.to_string(),
            s.seconds.to_string(),
            s.gops.to_string(),
            s.effective_gops.to_string(),
            r.energy.total_j.to_string(),
            r.energy.average_power_w.to_string(),
            (r.energy.ops_per_joule(s.effective_ops) / 1e9).to_string(),
            area.to_string(),
            (s.effective_gops / area).to_string(),
            s.dram.bytes_moved().to_string(),
            s.lsb_refetches.to_string(),
        ];
        for name in SPEEDUP_BASELINES {
            let b = r
                .baselines
                .iter()
                .find(|b| b.device == name)
                .ok_or_else(|| format!("baseline {name} is not among the shipped profiles"))?;
            row.push((b.total_latency_s() / s.seconds).to_string());
        }
        Ok(row)
    }
}
