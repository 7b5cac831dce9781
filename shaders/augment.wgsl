// The main pass: per output pixel one gather through the sample's inverse map
// and the colour program (or, after segment passes, the image they left in
// scratch and the program's last segment), then the output conversion.
//
// Grid: workgroup (x, y, z) is a 16x16 tile of sample z, so everything read
// from the sample record is uniform across the workgroup and the pixel's
// coordinates need no division. u8 output is one RGBA word per pixel (the
// host drops the fourth byte while copying out; with one output channel it
// keeps the first byte alone); f32 output is 3 planes, or plane 0 alone.
// CPU twin: src/cpu/augment.rs.

fn to_u8(c: vec3<f32>) -> vec3<u32> {
    return vec3<u32>(clamp(floor(clamp(c, vec3<f32>(0.0), vec3<f32>(1.0)) * 255.0 + 0.5), vec3<f32>(0.0), vec3<f32>(255.0)));
}

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let si = wg.z;
    let ox = gid.x;
    let oy = gid.y;
    if (ox >= g.out.x || oy >= g.out.y) {
        return;
    }
    let npx = g.out.x * g.out.y;
    let p = oy * g.out.x + ox;
    let fv = field_values(si, ox, oy);
    // Without barriers: warp, then the whole program (segment 0). With them,
    // the segment passes left the image at the last barrier's input in scratch.
    var c: vec3<f32>;
    var seg = 0u;
    let in_half = (g.stage.y + 1u) % 2u;
    if (USE_SCRATCH) {
        seg = g.stage.y;
        c = load_img(in_half, si, ox, oy);
    } else {
        c = warp_pixel(si, ox, oy, fv.geo) * INV_255;
    }
    c = run_segment(si, c, seg, Px(ox, oy, fv.color, in_half));
    if (OUT_F32 && OUT_GREY) {
        // One output channel: channel 0 of the final image.
        out_buf[si * npx + p] = bitcast<u32>((c.x - g.mean.x) / g.stdev.x);
    } else if (OUT_F32) {
        let n = (c - g.mean.xyz) / g.stdev.xyz;
        let o = si * 3u * npx + p;
        out_buf[o] = bitcast<u32>(n.x);
        out_buf[o + npx] = bitcast<u32>(n.y);
        out_buf[o + 2u * npx] = bitcast<u32>(n.z);
    } else {
        let b = to_u8(c);
        out_buf[si * npx + p] = b.x | (b.y << 8u) | (b.z << 16u);
    }
}
