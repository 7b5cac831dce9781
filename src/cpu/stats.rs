//! CPU twin of `shaders/stats.wgsl`: the mean grey of the image as it is at a
//! contrast step, summed in the same 256 strided lanes and the same tree as
//! the workgroup reduction, so both backends round alike.

use super::color::gray;

const SWG: usize = 256;

/// Mean grey of planar [0, 1] RGB: lane `l` sums pixels l, l + 256, ...; then
/// the lanes fold in halves (128, 64, ..., 1) as the workgroup does.
#[inline(always)]
pub fn lane_mean(r: &[f32], g: &[f32], b: &[f32]) -> f32 {
    let npx = r.len();
    let mut partial = [0.0f32; SWG];
    let mut p = 0;
    while p < npx {
        let n = SWG.min(npx - p);
        for (li, lane) in partial[..n].iter_mut().enumerate() {
            *lane += gray([r[p + li], g[p + li], b[p + li]]);
        }
        p += SWG;
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
