//! The command line's subcommands (demo, run and its replay, apply, bench,
//! info), private to the binary and built on the library's public API only.

pub mod apply;
pub mod bench;
pub mod demo;
pub mod files;
pub mod info;
pub mod replay;
pub mod run;
pub mod text;
pub mod views;
