//! CPU twin of `shaders/augment.wgsl` (and the warp of `shaders/stats.wgsl`):
//! warp each output pixel, reduce statistics where the program needs them,
//! run the colour program, convert to the output format.

use super::color::{run_program, INV_255};
use super::sample::{warp_pixel, Src};
use super::stats::mean_at_slot;
use crate::plan::{GpuGlobals, GpuSample, MAX_STATS};

/// Augments one sample into `out` (u8 HWC: npx * 3 bytes; f32 CHW: 3 * npx floats).
pub fn augment_sample(gl: &GpuGlobals, g: &GpuSample, src: &Src, out: OutSlice) {
    let (w, h) = (gl.out[0], gl.out[1]);
    let npx = (w * h) as usize;
    // The warped image, u8 RGB (what the GPU keeps in scratch).
    let mut warped = vec![0u8; npx * 3];
    for oy in 0..h {
        for ox in 0..w {
            let p = (oy * w + ox) as usize;
            warped[p * 3..p * 3 + 3].copy_from_slice(&warp_pixel(g, src, ox, oy));
        }
    }
    let mut stats = [0.0f32; MAX_STATS];
    for slot in 0..gl.pass[1] {
        let has_slot = g.prog[..g.counts[0] as usize].iter().any(|s| s[0] == crate::plan::code::CONTRAST && s[2] as u32 == slot);
        if has_slot {
            stats[slot as usize] = mean_at_slot(g, &stats, &warped, slot);
        }
    }
    match out {
        OutSlice::U8(o) => {
            for p in 0..npx {
                let c = [0, 1, 2].map(|k| warped[p * 3 + k] as f32 * INV_255);
                let c = run_program(g, &stats, c, u32::MAX);
                for k in 0..3 {
                    o[p * 3 + k] = (c[k].clamp(0.0, 1.0) * 255.0 + 0.5).floor().clamp(0.0, 255.0) as u8;
                }
            }
        }
        OutSlice::F32(o) => {
            for p in 0..npx {
                let c = [0, 1, 2].map(|k| warped[p * 3 + k] as f32 * INV_255);
                let c = run_program(g, &stats, c, u32::MAX);
                for k in 0..3 {
                    o[k * npx + p] = (c[k] - gl.mean[k]) / gl.std[k];
                }
            }
        }
    }
}

/// One sample's part of the output tensor.
pub enum OutSlice<'a> {
    /// u8 HWC.
    U8(&'a mut [u8]),
    /// f32 CHW.
    F32(&'a mut [f32]),
}
