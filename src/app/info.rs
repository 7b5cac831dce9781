//! `gpu-augment info`: adapters, the one chosen, its limits.

use gpu_augment::gpu::{list_adapters, GpuContext};
use std::fmt::Write;

/// The report `info` prints.
pub fn info_report() -> String {
    let mut s = String::new();
    let adapters = list_adapters();
    let _ = writeln!(s, "adapters found: {}", adapters.len());
    for a in &adapters {
        let _ = writeln!(
            s,
            "  - {} ({}, {}, driver: {})",
            a.name, a.backend, a.device_type, a.driver
        );
    }
    match GpuContext::new() {
        Ok(g) => {
            let a = g.adapter();
            let l = g.limits();
            let _ = writeln!(s, "chosen: {} ({})", a.name, a.backend);
            let _ = writeln!(
                s,
                "  max storage binding: {} MiB",
                l.max_storage_binding >> 20
            );
            let _ = writeln!(s, "  max buffer: {} MiB", l.max_buffer >> 20);
            let _ = writeln!(
                s,
                "  max workgroups per dimension: {}",
                l.max_workgroups_per_dim
            );
        }
        Err(e) => {
            let _ = writeln!(s, "chosen: none ({e}); the auto backend uses the CPU");
        }
    }
    let _ = writeln!(s, "cpu threads: {}", rayon::current_num_threads());
    s
}
