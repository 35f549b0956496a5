//! The bit-exact reference model of the datapath: decides every value and decision, knows
//! nothing about time. Its numerics are specified in SPEC.md beside this file.
