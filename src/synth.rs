//! Built-in test images: gradients, shapes, textures and text-like strokes,
//! so that every op shows. Deterministic from (index, size).

use crate::key::op_rng;
use image::{Rgb, RgbImage};
use rand::Rng;

/// A synthetic RGB image of `width` x `height`; `index` picks the content
/// (a pure function of its arguments, for examples, tests and benchmarks;
/// `gpu-augment synth` writes them as files).
pub fn synthetic_image(index: u64, width: u32, height: u32) -> RgbImage {
    let mut rng = op_rng(0x5EED, 0, index, 0, 0);
    let (w, h) = (width as f32, height as f32);
    let c0 = [
        rng.random::<f32>(),
        rng.random::<f32>(),
        rng.random::<f32>(),
    ];
    let c1 = [
        rng.random::<f32>(),
        rng.random::<f32>(),
        rng.random::<f32>(),
    ];
    let freq = 2.0 + rng.random::<f32>() * 10.0;
    let angle = rng.random::<f32>() * std::f32::consts::PI;
    let (ca, sa) = (angle.cos(), angle.sin());
    let mut img = RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = ((x as f32 + 0.5) / w, (y as f32 + 0.5) / h);
        // Diagonal gradient between two colours plus a stripe texture.
        let t = (u * ca + v * sa).clamp(0.0, 1.0);
        let stripes = 0.5 + 0.5 * ((u * ca - v * sa) * freq * std::f32::consts::TAU).sin();
        let px = [0, 1, 2].map(|k| {
            let base = c0[k] * (1.0 - t) + c1[k] * t;
            ((base * 0.8 + stripes * 0.2) * 255.0)
                .round()
                .clamp(0.0, 255.0) as u8
        });
        Rgb(px)
    });
    // Shapes: filled circles and rectangles.
    for _ in 0..4 {
        let col = Rgb([rng.random::<u8>(), rng.random::<u8>(), rng.random::<u8>()]);
        let (cx, cy) = (rng.random::<f32>() * w, rng.random::<f32>() * h);
        let r = (0.05 + rng.random::<f32>() * 0.2) * w.min(h);
        let circle = rng.random::<bool>();
        let (x0, x1) = ((cx - r).max(0.0) as u32, ((cx + r) as u32).min(width));
        let (y0, y1) = ((cy - r).max(0.0) as u32, ((cy + r) as u32).min(height));
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if !circle || dx * dx + dy * dy <= r * r {
                    img.put_pixel(x, y, col);
                }
            }
        }
    }
    // Text-like strokes: rows of short dark glyph bars.
    let glyph = (h / 24.0).max(2.0);
    let rows = 1 + (rng.random::<u32>() % 3);
    for row in 0..rows {
        let y0 = h * (0.15 + 0.3 * row as f32);
        let mut x = w * 0.05;
        while x < w * 0.9 {
            let gw = glyph * (0.4 + rng.random::<f32>() * 0.8);
            let kind = rng.random::<u32>() % 3;
            for yy in 0..(glyph * 1.4) as u32 {
                for xx in 0..gw as u32 {
                    let on = match kind {
                        0 => xx < (gw as u32 / 3).max(1),
                        1 => yy < (glyph as u32 / 4).max(1) || xx < (gw as u32 / 3).max(1),
                        _ => (xx as f32 / gw - yy as f32 / (glyph * 1.4)).abs() < 0.2,
                    };
                    let (px, py) = ((x as u32 + xx), (y0 as u32 + yy));
                    if on && px < width && py < height {
                        img.put_pixel(px, py, Rgb([20, 20, 30]));
                    }
                }
            }
            x += gw + glyph * 0.4;
        }
    }
    img
}
