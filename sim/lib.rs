//! spatten-sim: a cycle-level simulator of a SpAtten-style sparse-attention accelerator, with
//! a bit-exact reference model of its datapath.
//!
//! Data flows one way: workload -> values -> [`reference`] -> attention trace -> cycle
//! simulator ([`hw`] over [`dram`]) -> stats -> energy -> [`report`]. See README.md.

pub mod baseline;
pub mod budget;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod dram;
pub mod energy;
pub mod experiment;
pub mod hw;
pub mod model;
pub mod output_dir;
pub mod reference;
pub mod report;
pub mod reproduce;
pub mod sweep;
pub mod trace;
