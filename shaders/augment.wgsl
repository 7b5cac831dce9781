// The main pass: per output pixel one gather through the sample's inverse map
// (or a read of the warped image the stats pass left in scratch), the colour
// program, then the output conversion. Each invocation writes 4 consecutive
// pixels of the batch, so u8 HWC output is whole 32-bit words (12 bytes).
// CPU twin: src/cpu/augment.rs.

const WG: u32 = 64u;

fn pixel_color(si: u32, p: u32) -> vec3<f32> {
    let s = samples[si];
    let npx = g.out.x * g.out.y;
    var c8: vec3<f32>;
    if (g.stage.z == 1u) {
        c8 = unpack_rgb(scratch[si * npx + p]);
    } else {
        c8 = warp_pixel(s, p % g.out.x, p / g.out.x);
    }
    return run_program(s, si, c8 * INV_255, 0xffffffffu);
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
    var bytes = array<u32, 12>();
    for (var k = 0u; k < 4u; k++) {
        let q = base + k;
        if (q >= total) {
            break;
        }
        let si = q / npx;
        let p = q % npx;
        let c = pixel_color(si, p);
        if (g.out.w == 0u) {
            let b = clamp(floor(clamp(c, vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0 + 0.5), vec3<f32>(0.0), vec3<f32>(255.0));
            bytes[k * 3u] = u32(b.x);
            bytes[k * 3u + 1u] = u32(b.y);
            bytes[k * 3u + 2u] = u32(b.z);
        } else {
            let n = (c - g.mean.xyz) / g.stdev.xyz;
            let o = si * 3u * npx + p;
            out_buf[o] = bitcast<u32>(n.x);
            out_buf[o + npx] = bitcast<u32>(n.y);
            out_buf[o + 2u * npx] = bitcast<u32>(n.z);
        }
    }
    if (g.out.w == 0u) {
        let w = base * 3u / 4u;
        for (var j = 0u; j < 3u; j++) {
            out_buf[w + j] = bytes[j * 4u] | (bytes[j * 4u + 1u] << 8u) | (bytes[j * 4u + 2u] << 16u) | (bytes[j * 4u + 3u] << 24u);
        }
    }
}
