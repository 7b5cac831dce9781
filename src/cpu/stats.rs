//! CPU twin of `shaders/stats.wgsl`: the mean grey of the image as it is at a
//! contrast step, summed in the same 256 strided lanes and the same tree as
//! the workgroup reduction, so both backends round alike.

use super::color::{gray, run_program, INV_255};
use crate::plan::{GpuSample, MAX_STATS};

const SWG: usize = 256;

/// Mean grey of the warped image `warped` (RGB u8) after the program's steps before `slot`.
pub fn mean_at_slot(g: &GpuSample, stats: &[f32; MAX_STATS], warped: &[u8], slot: u32) -> f32 {
    let npx = warped.len() / 3;
    let mut partial = [0.0f32; SWG];
    for (li, lane) in partial.iter_mut().enumerate() {
        let mut sum = 0.0f32;
        let mut p = li;
        while p < npx {
            let c = [0, 1, 2].map(|k| warped[p * 3 + k] as f32 * INV_255);
            sum += gray(run_program(g, stats, c, slot));
            p += SWG;
        }
        *lane = sum;
    }
    let mut half = SWG / 2;
    while half > 0 {
        for li in 0..half {
            partial[li] += partial[li + half];
        }
        half /= 2;
    }
    partial[0] / npx as f32
}
