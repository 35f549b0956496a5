//! The cycle-level simulator: hardware modules that replay an attention trace, cycle by cycle.
