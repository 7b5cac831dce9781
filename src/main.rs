//! The `gpu-augment` command: parse, call the library, print.

mod app;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use gpu_augment::{load_image, Augmenter, Backend, Pipeline, Tensor};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "gpu-augment",
    version,
    about = "GPU-accelerated, per-sample random, reproducible image augmentation.\n\nWith no subcommand: a demo on built-in images (writes gpu-augment-demo/contact_sheet.png)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Augment every image under a folder (keeps relative names; PNG for u8, .npy for f32).
    Run {
        /// Folder of images (searched recursively).
        #[arg(long)]
        input: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Pipeline file (TOML).
        #[arg(long)]
        pipeline: PathBuf,
        /// auto (GPU if present), gpu or cpu.
        #[arg(long, default_value = "auto")]
        backend: Backend,
        /// Seed of the run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Epoch.
        #[arg(long, default_value_t = 0)]
        epoch: u64,
        /// Images per batch (mixing ops pair samples within a batch).
        #[arg(long, default_value_t = 64, value_parser = at_least_one)]
        batch_size: usize,
        /// I/N: write only shard I of N (files I, I+N, I+2N, ... in sorted
        /// order), so N processes or machines share a folder.
        #[arg(long, value_parser = parse_shard, default_value = "0/1")]
        shard: (usize, usize),
        /// GPU devices to spread batches over (several on one adapter when there is one).
        #[arg(long, default_value_t = 1, value_parser = at_least_one)]
        devices: usize,
        /// Decoding threads (default: all cores).
        #[arg(long, value_parser = at_least_one)]
        decode_threads: Option<usize>,
        /// Start over: remove what an earlier run wrote into --out (its
        /// records, manifest and outputs) instead of refusing when the
        /// settings or the inputs changed.
        #[arg(long)]
        overwrite: bool,
        /// Apply each image's EXIF orientation (PIL's exif_transpose);
        /// default: ignored, as torchvision's decode_image.
        #[arg(long)]
        exif_orientation: bool,
        /// Render again exactly the augmentation a parameter record file
        /// (the params.jsonl of an earlier run) holds, for every file it
        /// names under --input; the other settings come from --pipeline.
        #[arg(long, value_name = "PARAMS.jsonl", conflicts_with_all = ["seed", "epoch", "shard", "devices"])]
        replay: Option<PathBuf>,
        /// Folder of label maps (PNG) with the images' relative paths and
        /// stems (DIR/a/b.png for --input/a/b.jpg): warped with their image
        /// (nearest; pixels from outside take the [targets] ignore_index)
        /// and written to OUT/masks/ under the outputs' names.
        #[arg(long, value_name = "DIR", conflicts_with = "replay")]
        masks: Option<PathBuf>,
        /// COCO instances file (bbox, category_id, keypoints; images matched
        /// by file_name, the path relative to --input or its file name):
        /// boxes and keypoints transformed with their image, written to
        /// OUT/annotations.json (one image entry per output, areas recomputed).
        #[arg(long, value_name = "FILE.json", conflicts_with = "replay")]
        annotations: Option<PathBuf>,
        /// Folder of YOLO label files (DIR/<relative path>.txt: `class cx cy
        /// w h` per line, fractions of the image; YOLO-pose `x y v` after):
        /// transformed with their image and written to OUT/labels/.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["replay", "annotations"])]
        yolo: Option<PathBuf>,
    },
    /// Apply one op with explicit parameters (like torchvision's functional API).
    Apply {
        /// Op name (`apply --help` lists every op with its keys).
        #[arg(long, long_help = gpu_augment::explicit::help())]
        op: String,
        /// key=value parameters, e.g. --set angle=90 --set translate=10,0.
        #[arg(long = "set", value_parser = parse_kv)]
        sets: Vec<(String, String)>,
        /// Input image.
        input: PathBuf,
        /// Output image (.png), or .npy for normalize.
        output: PathBuf,
        /// auto, gpu or cpu.
        #[arg(long, default_value = "auto")]
        backend: Backend,
    },
    /// Time augmentation alone (images decoded once), median of repeats.
    Bench {
        /// Folder of images.
        #[arg(long)]
        input: PathBuf,
        /// Pipeline file (TOML).
        #[arg(long)]
        pipeline: PathBuf,
        /// auto, gpu or cpu.
        #[arg(long, default_value = "auto")]
        backend: Backend,
        /// Images per batch.
        #[arg(long, default_value_t = 64, value_parser = at_least_one)]
        batch_size: usize,
        /// CPU threads (default: all cores).
        #[arg(long, value_parser = at_least_one)]
        threads: Option<usize>,
        /// Timed passes over the folder.
        #[arg(long, default_value_t = 5, value_parser = at_least_one)]
        repeats: usize,
        /// Use the images this many times over (a bigger set per pass).
        #[arg(long, default_value_t = 1, value_parser = at_least_one)]
        replicate: usize,
        /// Time the pipeline's mixing step alone (the CPU mixing pass on
        /// batches augmented beforehand) instead of the whole pipeline.
        #[arg(long)]
        mix_only: bool,
        /// Time the loader end to end (decode + augment + readback,
        /// overlapped) beside decoding alone and augmenting alone, with the
        /// fraction of the time each stage is busy. --threads sets the decode
        /// threads (and the CPU augment pool).
        #[arg(long, conflicts_with = "mix_only")]
        end_to_end: bool,
        /// Gather this many u8 label maps per image with every batch (what
        /// masks add to the pipeline's time).
        #[arg(long, default_value_t = 0, conflicts_with_all = ["mix_only", "end_to_end"])]
        masks: usize,
        /// GPU devices for --end-to-end.
        #[arg(long, default_value_t = 1, value_parser = at_least_one)]
        devices: usize,
    },
    /// Adapters found, the one chosen, its limits.
    Info,
    /// Write built-in synthetic test images (for benchmarks and tests).
    Synth {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// How many.
        #[arg(long, default_value_t = 64)]
        count: u64,
        /// WIDTHxHEIGHT.
        #[arg(long, default_value = "500x375")]
        size: String,
        /// png or jpg.
        #[arg(long, default_value = "jpg")]
        format: String,
    },
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("expected I/N with 0 <= I < N, got {s:?}");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<usize>().map_err(|_| bad())?,
        n.trim().parse::<usize>().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The one rule for counts (batch size, threads, devices, repeats): at least
/// 1, the same error in every subcommand.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1, got 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a positive integer, got {s:?}")),
    }
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected key=value, got {s:?}")),
    }
}

fn main() {
    // Before any thread starts: no window-system noise on a headless machine.
    gpu_augment::gpu::quiet_headless_vulkan();
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

/// `run` (or `run --replay`) of a `[[views]]` pipeline file.
fn run_views(
    views: gpu_augment::Views,
    input: &std::path::Path,
    out: &std::path::Path,
    replay: Option<&std::path::Path>,
    opts: app::run::RunOptions,
) -> Result<()> {
    if let Some(params) = replay {
        let s = app::views::replay_views_folder(
            views,
            input,
            out,
            params,
            opts.backend,
            opts.batch_size,
        )?;
        eprintln!("backend: {}", s.backend);
        println!(
            "replayed {} outputs from {} to {} in {:.2} s; 0 failed",
            s.written,
            params.display(),
            out.display(),
            s.seconds
        );
        return Ok(());
    }
    let s = app::views::run_views_folder(views, input, out, &opts)?;
    eprintln!("backend: {}", s.backend);
    for n in &s.notes {
        eprintln!("note: {n}");
    }
    println!(
        "wrote {} images to {} in {:.2} s ({:.0} images/s); {} already there; {} failed",
        s.written,
        out.display(),
        s.seconds,
        s.written as f64 / s.seconds.max(1e-9),
        s.existing,
        s.failed.len()
    );
    if !s.failed.is_empty() {
        for (p, r) in &s.failed {
            eprintln!("failed: {}: {r}", p.display());
        }
        std::process::exit(1);
    }
    Ok(())
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => {
            let out = PathBuf::from("gpu-augment-demo");
            let s = app::demo::run_demo(&out, Backend::Auto)?;
            println!("backend: {}", s.backend);
            println!("contact sheet: {}", s.contact_sheet.display());
            println!(
                "random fields of increasing strength: {}",
                s.field_strip.display()
            );
            println!(
                "imagenet_train (224, f32 CHW) over {} images of 500x375: {:.0} images/s",
                s.images, s.images_per_sec
            );
        }
        Some(Command::Run {
            input,
            out,
            pipeline,
            backend,
            seed,
            epoch,
            batch_size,
            shard,
            devices,
            decode_threads,
            overwrite,
            exif_orientation,
            replay,
            masks,
            annotations,
            yolo,
        }) => {
            let text = std::fs::read_to_string(&pipeline)?;
            if gpu_augment::Views::declared_in(&text) {
                return run_views(
                    gpu_augment::Views::from_toml(&text)?,
                    &input,
                    &out,
                    replay.as_deref(),
                    app::run::RunOptions {
                        backend,
                        seed,
                        epoch,
                        batch_size,
                        shard,
                        devices,
                        decode_threads,
                        overwrite,
                        exif_orientation,
                        masks,
                        annotations,
                        yolo,
                        ..Default::default()
                    },
                );
            }
            let p = Pipeline::from_file(&pipeline)?;
            let target_options = gpu_augment::TargetOptions::from_pipeline_toml(&text)?;
            if let Some(params) = replay {
                let opts = app::replay::ReplayOptions {
                    backend,
                    batch_size,
                    decode_threads,
                };
                let s = app::replay::replay_folder(p, &input, &out, &params, &opts)?;
                eprintln!("backend: {}", s.backend);
                println!(
                    "replayed {} images from {} to {} in {:.2} s; {} failed",
                    s.written,
                    params.display(),
                    out.display(),
                    s.seconds,
                    s.failed.len()
                );
                if !s.failed.is_empty() {
                    for (p, r) in &s.failed {
                        eprintln!("failed: {}: {r}", p.display());
                    }
                    std::process::exit(1);
                }
                return Ok(());
            }
            let opts = app::run::RunOptions {
                backend,
                seed,
                epoch,
                batch_size,
                shard,
                devices,
                decode_threads,
                overwrite,
                exif_orientation,
                masks,
                annotations,
                yolo,
                target_options,
            };
            let s = app::run::run_folder(p, &input, &out, &opts, |l| {
                eprintln!("backend: {}", l.backend_name())
            })?;
            println!(
                "wrote {} images to {} in {:.2} s ({:.0} images/s); {} already there; {} failed{}",
                s.written,
                out.display(),
                s.seconds,
                s.written as f64 / s.seconds.max(1e-9),
                s.existing,
                s.failed.len(),
                if s.cpu_fallback.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} ran on the CPU twin (too large for the GPU)",
                        s.cpu_fallback.len()
                    )
                }
            );
            if !s.failed.is_empty() {
                for (p, r) in &s.failed {
                    eprintln!("failed: {}: {r}", p.display());
                }
                std::process::exit(1);
            }
        }
        Some(Command::Apply {
            op,
            sets,
            input,
            output,
            backend,
        }) => {
            let want_npy = output
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
            let img = load_image(&input)?;
            let batch = app::apply::apply_op(|p| Augmenter::new(p, backend), &op, &sets, img)?;
            match &batch.data {
                Tensor::U8(_) if want_npy => bail!(
                    "op `{op}` writes an image, but {} is named .npy: name it .png (or another image extension)",
                    output.display()
                ),
                Tensor::F32(_) | Tensor::F16(_) if !want_npy => bail!(
                    "op `{op}` writes f32 data (a NumPy array), but {} is not named .npy: name the output .npy",
                    output.display()
                ),
                Tensor::U8(v) => {
                    let [_, h, w, _] = batch.shape;
                    app::files::write_png(&output, w as u32, h as u32, v)?;
                }
                Tensor::F32(v) => {
                    let [_, c, h, w] = batch.shape;
                    app::files::write_npy(&output, &[c as u64, h as u64, w as u64], v)?;
                }
                Tensor::F16(v) => {
                    let [_, c, h, w] = batch.shape;
                    app::files::write_npy(&output, &[c as u64, h as u64, w as u64], v)?;
                }
            }
            println!("{}", serde_json::to_string(&batch.records[0])?);
        }
        Some(Command::Bench {
            input,
            pipeline,
            backend,
            batch_size,
            threads,
            repeats,
            replicate,
            mix_only,
            end_to_end,
            devices,
            masks,
        }) => {
            let views_text = std::fs::read_to_string(&pipeline)?;
            if gpu_augment::Views::declared_in(&views_text) {
                if end_to_end || mix_only || masks > 0 {
                    bail!("--end-to-end, --mix-only and --masks are not supported with a [[views]] pipeline");
                }
                let views = gpu_augment::Views::from_toml(&views_text)?;
                let files = gpu_augment::loader::find_images(&input)?;
                if files.is_empty() {
                    return Err(app::files::no_images(&input).into());
                }
                let base: Vec<_> = files
                    .iter()
                    .filter_map(|(p, _)| load_image(p).map_err(|e| eprintln!("skipped: {e}")).ok())
                    .collect();
                if base.is_empty() {
                    bail!("no image under {} could be decoded", input.display());
                }
                let images = app::bench::replicate(base, replicate)?;
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads.unwrap_or(0))
                    .build()
                    .context("building the thread pool")?;
                let (name, r) = pool.install(|| -> Result<_> {
                    let aug = gpu_augment::ViewAugmenter::new(views, backend)?;
                    let r = app::bench::bench_views(&aug, &images, batch_size, repeats)?;
                    Ok((aug.backend_name(), r))
                })?;
                println!("backend: {name}");
                println!(
                    "{} source images through every view ({} outputs each): median {:.3} s a pass",
                    r.images, r.outputs_per_image, r.median
                );
                if let Some(g) = r.gpu_per_batch {
                    println!(
                        "gpu per batch (all views): plans={:.1} dispatches={:.1} submits={:.1} up_bytes_per_image={:.0}",
                        g.plans, g.dispatches, g.submits, g.up_bytes_per_image
                    );
                }
                println!(
                    "outputs/s: {:.0}",
                    r.images_per_sec * r.outputs_per_image as f64
                );
                println!("images/s: {:.0}", r.images_per_sec);
                return Ok(());
            }
            let p = Pipeline::from_file(&pipeline)?;
            if end_to_end {
                let threads = threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
                let opts = gpu_augment::LoaderOptions {
                    batch_size,
                    backend,
                    decode_threads: threads,
                    augment_threads: Some(threads),
                    devices,
                    ..Default::default()
                };
                let r = app::bench::bench_end_to_end(p, &input, opts, replicate, repeats)?;
                let name = pipeline
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                println!("| pipeline | backend | threads | batch | images | end-to-end images/s | decode alone | augment alone | decode busy | augment busy | consumer waits |");
                println!("|---|---|---|---|---|---|---|---|---|---|---|");
                println!(
                    "| {name} | {} | {threads} | {batch_size} | {} | {:.0} | {:.0} | {:.0} | {:.0}% | {:.0}% | {:.0}% |",
                    r.backend,
                    r.images,
                    r.images_per_sec,
                    r.decode_alone_per_sec,
                    r.augment_alone_per_sec,
                    r.decode_busy * 100.0,
                    r.augment_busy * 100.0,
                    r.consumer_wait * 100.0
                );
                if let Some([pack, device, readback]) = r.gpu_split {
                    println!(
                        "augment workers busy, split: pack + upload {:.0}%, waiting for the device {:.0}%, readback copy {:.0}%",
                        pack * 100.0,
                        device * 100.0,
                        readback * 100.0
                    );
                }
                println!(
                    "epochs (s): {}",
                    r.seconds
                        .iter()
                        .map(|s| format!("{s:.3}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                println!("images/s: {:.0}", r.images_per_sec);
                return Ok(());
            }
            let files = gpu_augment::loader::find_images(&input)?;
            if files.is_empty() {
                return Err(app::files::no_images(&input).into());
            }
            let mut base = Vec::new();
            for (path, _) in &files {
                match load_image(path) {
                    Ok(i) => base.push(i),
                    Err(e) => eprintln!("skipped: {e}"),
                }
            }
            if base.is_empty() {
                bail!("no image under {} could be decoded", input.display());
            }
            let images = app::bench::replicate(base, replicate)?;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads.unwrap_or(0))
                .build()
                .context("building the thread pool")?;
            let (aug, r, created) = pool.install(|| -> Result<_> {
                let t = std::time::Instant::now();
                let aug = Augmenter::new(p.clone(), backend)?;
                let created = t.elapsed().as_secs_f64();
                let r = if mix_only {
                    app::bench::bench_mixing(&aug, &images, batch_size, repeats)?
                } else if masks > 0 {
                    app::bench::bench_masks(&aug, &images, masks, batch_size, repeats)?
                } else {
                    app::bench::bench(&aug, &images, batch_size, repeats)?
                };
                Ok((aug, r, created))
            })?;
            println!("| pipeline | backend | threads | batch | images | median s | images/s | dispatches/batch |");
            println!("|---|---|---|---|---|---|---|---|");
            println!(
                "| {} | {} | {} | {} | {} | {:.4} | {:.0} | {} |",
                pipeline
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default(),
                if mix_only {
                    "cpu (mixing pass alone)".to_string()
                } else {
                    aug.backend_name()
                },
                pool.current_num_threads(),
                batch_size,
                r.images,
                r.median,
                r.images_per_sec,
                r.dispatches_per_batch
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into())
            );
            if let Some(g) = r.gpu {
                println!("{g}");
            }
            // What a fresh process waits for before its first batch is out:
            // opening the device and compiling (create_s), then one batch.
            println!(
                "startup: create_s={created:.3} first_batch_s={}",
                r.first_batch
                    .map(|s| format!("{s:.3}"))
                    .unwrap_or_else(|| "-".into())
            );
            println!("images/s: {:.0}", r.images_per_sec);
        }
        Some(Command::Info) => print!("{}", app::info::info_report()),
        Some(Command::Synth {
            out,
            count,
            size,
            format,
        }) => {
            let (w, h) = size
                .split_once('x')
                .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
                .filter(|(w, h)| *w > 0 && *h > 0)
                .with_context(|| format!("--size must be WIDTHxHEIGHT, got {size:?}"))?;
            if format != "png" && format != "jpg" {
                bail!("--format must be png or jpg, got {format:?}");
            }
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for i in 0..count {
                let img = gpu_augment::synthetic_image(i, w, h);
                let path = out.join(format!("synth_{i:05}.{format}"));
                img.save(&path)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!("wrote {count} images of {w}x{h} to {}", out.display());
        }
    }
    Ok(())
}
