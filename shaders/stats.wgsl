// The reduction pass for ops that need statistics of the current image
// (contrast's mean grey). One workgroup per sample. Pass 0 also warps the
// image into scratch, so the main pass does no second gather.
// CPU twin: src/cpu/stats.rs.

const SWG: u32 = 256u;
// Pass 0 warps (and fills scratch); later passes read scratch. A separate
// pipeline each, so neither pays for the other's path.
override STATS_WARP: bool = true;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let si = wg.y * nwg.x + wg.x;
    if (si >= g.out.z) {
        return;
    }
    let slot = g.stage.x;
    let npx = g.out.x * g.out.y;
    var sum = 0.0;
    // Pixel p = li + 256 k at (x, y), stepped without a division per pixel.
    let w = g.out.x;
    let step_y = SWG / w;
    let step_x = SWG % w;
    var x = li % w;
    var y = li / w;
    for (var p = li; p < npx; p += SWG) {
        let fv = field_values(si, x, y);
        var c8: vec3<f32>;
        if (STATS_WARP) {
            c8 = warp_pixel(si, x, y, fv.geo);
            scratch[si * npx + p] = pack_rgb(c8);
        } else {
            c8 = unpack_rgb(scratch[si * npx + p]);
        }
        sum += gray(run_program(si, c8 * INV_255, slot, fv.color));
        x += step_x;
        y += step_y;
        let wrap = x >= w;
        x = select(x, x - w, wrap);
        y = select(y, y + 1u, wrap);
    }
    partial[li] = sum;
    workgroupBarrier();
    for (var half = SWG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            partial[li] += partial[li + half];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        stats[si * MAX_STATS + slot] = partial[0] / f32(npx);
    }
}
