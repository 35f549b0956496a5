//! Baselines: CPU/GPU/accelerator device profiles and the measured host CPU.
