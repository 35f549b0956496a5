//! spatten-sim: a cycle-level simulator of a SpAtten-style sparse-attention accelerator, with
//! a bit-exact reference model of its datapath.
//!
//! Data flows one way: workload -> values -> [`reference`] -> attention trace -> cycle
//! simulator -> stats -> energy -> report. See README.md for the tour.

pub mod cli;
pub mod config;
pub mod dram;
pub mod trace;
