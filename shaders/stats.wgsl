// The segment pass, for pipelines with barrier steps (steps that need the
// whole image at their input: contrast's mean grey, autocontrast's range,
// equalize's histogram, sharpness' and blur's neighbours). Pass j runs
// segment j of each sample's colour program over the whole image, writes the
// result to scratch (the half j % 2), and reduces the statistics the next
// barrier needs. One workgroup per sample; pass 0 warps, later passes read
// the other half of scratch.
// CPU twin: the barrier steps in src/cpu/augment.rs and src/cpu/stats.rs.

const SWG: u32 = 256u;
// Pass 0 warps; later passes read scratch. A separate pipeline each, so
// neither pays for the other's path.
override STATS_WARP: bool = true;
var<workgroup> partial: array<f32, 256>;
var<workgroup> part_min: array<vec3<f32>, 256>;
var<workgroup> part_max: array<vec3<f32>, 256>;
var<workgroup> hist: array<atomic<u32>, STAT_HIST>;

// The code of the barrier step that starts segment `seg + 1`, or 0.
fn next_barrier(si: u32, seg: u32) -> u32 {
    let n = samples[si].counts.x;
    for (var k = 0u; k < n; k++) {
        let step = samples[si].prog[k];
        let op = u32(step.x);
        if (is_barrier(op) && u32(step.z) == seg) {
            return op;
        }
    }
    return 0u;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let si = wg.y * nwg.x + wg.x;
    if (si >= g.out.z) {
        return;
    }
    let seg = g.stage.x;
    let npx = g.out.x * g.out.y;
    let next = next_barrier(si, seg);
    let want_mean = next == OP_CONTRAST || next == OP_FIELD_CONTRAST;
    let want_range = uses(OP_AUTOCONTRAST) && next == OP_AUTOCONTRAST;
    let want_hist = uses(OP_EQUALIZE) && next == OP_EQUALIZE;
    if (uses(OP_EQUALIZE)) {
        for (var i = li; i < STAT_HIST; i += SWG) {
            atomicStore(&hist[i], 0u);
        }
        workgroupBarrier();
    }
    var sum = 0.0;
    var mn = vec3<f32>(3.0e38);
    var mx = vec3<f32>(-3.0e38);
    // Pixel p = li + 256 k at (x, y), stepped without a division per pixel.
    let w = g.out.x;
    let step_y = SWG / w;
    let step_x = SWG % w;
    var x = li % w;
    var y = li / w;
    let out_half = seg % 2u;
    let in_half = (seg + 1u) % 2u;
    for (var p = li; p < npx; p += SWG) {
        let fv = field_values(si, x, y);
        var c: vec3<f32>;
        if (STATS_WARP) {
            c = warp_pixel(si, x, y, fv.geo) * INV_255;
        } else {
            c = load_img(in_half, si, x, y);
        }
        c = run_segment(si, c, seg, Px(x, y, fv.color, in_half));
        store_img(out_half, si, x, y, c);
        if (want_mean) {
            sum += gray(c);
        }
        if (uses(OP_AUTOCONTRAST)) {
            mn = min(mn, c);
            mx = max(mx, c);
        }
        if (want_hist) {
            let q = quantize(c);
            atomicAdd(&hist[q.x], 1u);
            atomicAdd(&hist[STAT_LEVELS + q.y], 1u);
            atomicAdd(&hist[STAT_LEVELS * 2u + q.z], 1u);
        }
        x += step_x;
        y += step_y;
        let wrap = x >= w;
        x = select(x, x - w, wrap);
        y = select(y, y + 1u, wrap);
    }
    partial[li] = sum;
    part_min[li] = mn;
    part_max[li] = mx;
    workgroupBarrier();
    for (var half = SWG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            partial[li] += partial[li + half];
            part_min[li] = min(part_min[li], part_min[li + half]);
            part_max[li] = max(part_max[li], part_max[li + half]);
        }
        workgroupBarrier();
    }
    let b = stat_base(si, seg);
    if (li == 0u) {
        stats[b + STAT_MEAN] = partial[0] / f32(npx);
        if (want_range) {
            stats[b + STAT_MIN] = part_min[0].x;
            stats[b + STAT_MIN + 1u] = part_min[0].y;
            stats[b + STAT_MIN + 2u] = part_min[0].z;
            stats[b + STAT_MAX] = part_max[0].x;
            stats[b + STAT_MAX + 1u] = part_max[0].y;
            stats[b + STAT_MAX + 2u] = part_max[0].z;
        }
    }
    // torchvision's equalize LUT, one thread per channel.
    if (want_hist && li < 3u) {
        let base = li * STAT_LEVELS;
        var total = 0u;
        var last = 0u;
        for (var i = 0u; i < STAT_LEVELS; i++) {
            let v = atomicLoad(&hist[base + i]);
            total += v;
            if (v > 0u) {
                last = v;
            }
        }
        let step = (total - last) / 255u;
        stats[b + STAT_EQUALIZE + li] = select(0.0, 1.0, step != 0u);
        let st = max(step, 1u);
        var cum = 0u;
        stats[b + STAT_LUT + base] = 0.0;
        for (var i = 0u; i < STAT_LEVELS - 1u; i++) {
            cum += atomicLoad(&hist[base + i]);
            stats[b + STAT_LUT + base + i + 1u] = f32(min((cum + step / 2u) / st, 255u));
        }
    }
}
