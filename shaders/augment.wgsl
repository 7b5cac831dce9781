// The main pass: per output pixel one gather through the sample's inverse map
// (or a read of the warped image the stats pass left in scratch), the colour
// program, then the output conversion. Each invocation writes 4 consecutive
// pixels of the batch, so u8 HWC output is whole 32-bit words (12 bytes).
// CPU twin: src/cpu/augment.rs.

const WG: u32 = 64u;

fn pixel_color(q: u32, npx: u32) -> vec3<f32> {
    let si = q / npx;
    let p = q % npx;
    var c8: vec3<f32>;
    if (g.stage.z == 1u) {
        c8 = unpack_rgb(scratch[q]);
    } else {
        c8 = warp_pixel(si, p % g.out.x, p / g.out.x);
    }
    return run_program(si, c8 * INV_255, 0xffffffffu);
}

fn to_u8(c: vec3<f32>) -> vec3<u32> {
    return vec3<u32>(clamp(floor(clamp(c, vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0 + 0.5), vec3<f32>(0.0), vec3<f32>(255.0)));
}

fn write_f32(q: u32, npx: u32, c: vec3<f32>) {
    let n = (c - g.mean.xyz) / g.stdev.xyz;
    let o = (q / npx) * 3u * npx + q % npx;
    out_buf[o] = bitcast<u32>(n.x);
    out_buf[o + npx] = bitcast<u32>(n.y);
    out_buf[o + 2u * npx] = bitcast<u32>(n.z);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = (wg.y * nwg.x + wg.x) * WG + li;
    let npx = g.out.x * g.out.y;
    let total = npx * g.out.z;
    let base = t * 4u;
    if (base >= total) {
        return;
    }
    if (g.out.w == 1u) {
        for (var k = 0u; k < 4u; k++) {
            let q = base + k;
            if (q < total) {
                write_f32(q, npx, pixel_color(q, npx));
            }
        }
        return;
    }
    // u8 HWC: 4 pixels = 12 bytes = 3 words; pixels past the end are zero padding.
    var px = array<vec3<u32>, 4>();
    for (var k = 0u; k < 4u; k++) {
        if (base + k < total) {
            px[k] = to_u8(pixel_color(base + k, npx));
        }
    }
    let w = base * 3u / 4u;
    out_buf[w] = px[0].x | (px[0].y << 8u) | (px[0].z << 16u) | (px[1].x << 24u);
    out_buf[w + 1u] = px[1].y | (px[1].z << 8u) | (px[2].x << 16u) | (px[2].y << 24u);
    out_buf[w + 2u] = px[2].z | (px[3].x << 8u) | (px[3].y << 16u) | (px[3].z << 24u);
}
