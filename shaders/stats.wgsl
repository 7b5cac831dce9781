// The reduction pass for ops that need statistics of the current image
// (contrast's mean grey). One workgroup per sample. Pass 0 also warps the
// image into scratch, so the main pass does no second gather.
// CPU twin: src/cpu/stats.rs.

const SWG: u32 = 256u;
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
    for (var p = li; p < npx; p += SWG) {
        var c8: vec3<f32>;
        if (slot == 0u) {
            c8 = warp_pixel(si, p % g.out.x, p / g.out.x);
            scratch[si * npx + p] = pack_rgb(c8);
        } else {
            c8 = unpack_rgb(scratch[si * npx + p]);
        }
        sum += gray(run_program(si, c8 * INV_255, slot));
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
