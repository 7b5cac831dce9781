//! Command-line applications built on the library: demo, run, apply, bench, info.

pub mod synth;
