//! Command-line applications built on the library: demo, run, apply, bench,
//! info. The binary only parses arguments and prints.

pub mod apply;
pub mod bench;
pub mod demo;
pub mod files;
pub mod info;
pub mod run;
pub mod synth;
pub mod text;
