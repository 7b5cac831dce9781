//! What one call of [`Augmenter::augment`](crate::Augmenter::augment) or
//! [`Augmenter::draw`](crate::Augmenter::draw) is asked to do: the images,
//! where they sit in the stream of samples (seed, epoch, indices), their
//! labels, and optionally parameters given instead of drawn.

use crate::error::{Error, Result};
use crate::key::BatchKey;
use crate::mix::{Labels, MixRecord};
use crate::ops::Drawn;
use crate::pipeline::SampleRecord;
use crate::RgbImage;

/// One batch request: images of any sizes, and how their parameters are found.
///
/// By default every output sample draws its parameters from
/// (seed, epoch, global index, view): source image `i` has global index
/// `first_index + i` (seed 0, epoch 0 and first index 0 unless set), and a
/// pipeline with a mixing op draws the batch's partners and lambdas the same
/// way. Each part can be given instead:
///
/// - [`indices`](Self::indices): one global index per image (instead of
///   `first_index`; giving both is an error);
/// - [`params`](Self::params): every output sample's drawn parameters (one
///   `Vec<Drawn>` per output sample, one `Drawn` per op), e.g. edited ones;
/// - [`mix_records`](Self::mix_records): every output sample's mixing record;
/// - [`replay`](Self::replay): saved [`SampleRecord`]s, which hold all three
///   (so replay cannot be combined with any of them, nor with a seed, epoch
///   or key, which it would ignore).
///
/// With `views = k` the outputs are image-major: output `o` is view `o % k` of
/// image `o / k`, and `params`, `mix_records` and `replay` give one entry per
/// output, in that order.
///
/// ```
/// use gpu_augment::{synthetic_image, Augmenter, Backend, BatchKey, Pipeline, Request};
///
/// # fn main() -> gpu_augment::Result<()> {
/// let p = Pipeline::from_toml("size = 32\n[[ops]]\nop = \"affine\"\ndegrees = 30")?;
/// let aug = Augmenter::new(p, Backend::Cpu)?;
/// let images = vec![synthetic_image(0, 40, 30), synthetic_image(1, 50, 50)];
/// let batch = aug.augment(Request::new(&images).key(BatchKey::new(7, 0, 100)))?;
/// // The same samples again, from their records:
/// let again = aug.augment(Request::new(&images).replay(&batch.records))?;
/// assert_eq!(batch.data, again.data);
/// // Conflicting parts are an error:
/// assert!(aug.augment(Request::new(&images).first_index(3).indices(&[0, 1])).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub(crate) images: &'a [RgbImage],
    pub(crate) seed: u64,
    pub(crate) epoch: u64,
    pub(crate) first_index: u64,
    /// `first_index` (or a key) was set explicitly.
    first_index_set: bool,
    /// A seed, an epoch or a key was set explicitly.
    key_set: bool,
    pub(crate) indices: Option<&'a [u64]>,
    pub(crate) labels: Option<Labels<'a>>,
    pub(crate) params: Option<&'a [Vec<Drawn>]>,
    pub(crate) mix: Option<&'a [MixRecord]>,
    pub(crate) replay: Option<&'a [SampleRecord]>,
    pub(crate) targets: Option<&'a [crate::targets::Targets]>,
    pub(crate) target_options: Option<&'a crate::targets::TargetOptions>,
    pub(crate) overrides: Option<&'a crate::steer::Overrides>,
    pub(crate) view_keys: Option<&'a [u32]>,
    /// Per image, where it sits in its source when it holds only part of it
    /// (the Loader's region decode); `None` entries and no slice: whole images.
    pub(crate) windows: Option<&'a [Option<SourceWindow>]>,
}

/// Where a partly decoded image sits in its source (the Loader's region
/// decode, `src/loader/workers.rs`): the image holds the source's pixels from
/// `origin` on; `full` is the whole source's size, which the draws and the
/// records use (so they are those of the whole image); `valid` is the box
/// (x0, y0, x1, y1, in source pixels) whose pixels equal a full decode's. A
/// sample runs on such an image only when it reads nothing outside `valid`
/// (the antialiased resampler's window, see `GpuSample::onto_window`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SourceWindow {
    /// The image's first column and row in the source.
    pub origin: [u32; 2],
    /// The source's width and height.
    pub full: [u32; 2],
    /// The box of exact pixels: x0, y0, x1, y1 (exclusive), in the source.
    pub valid: [u32; 4],
}

impl<'a> Request<'a> {
    /// The targets with their options (`default` when none were given).
    pub(crate) fn targets_with(
        &self,
        default: &'a crate::targets::TargetOptions,
    ) -> Option<(
        &'a [crate::targets::Targets],
        &'a crate::targets::TargetOptions,
    )> {
        self.targets
            .map(|t| (t, self.target_options.unwrap_or(default)))
    }

    /// A request for `images`: seed 0, epoch 0, first index 0, every
    /// parameter drawn.
    pub fn new(images: &'a [RgbImage]) -> Self {
        Self {
            images,
            seed: 0,
            epoch: 0,
            first_index: 0,
            first_index_set: false,
            key_set: false,
            indices: None,
            labels: None,
            params: None,
            mix: None,
            replay: None,
            targets: None,
            target_options: None,
            overrides: None,
            view_keys: None,
            windows: None,
        }
    }

    /// Seed, epoch and first index at once.
    pub fn key(self, key: BatchKey) -> Self {
        Self {
            seed: key.seed,
            epoch: key.epoch,
            first_index: key.first_index,
            first_index_set: true,
            key_set: true,
            ..self
        }
    }

    /// The run's seed.
    pub fn seed(self, seed: u64) -> Self {
        Self {
            seed,
            key_set: true,
            ..self
        }
    }

    /// The epoch.
    pub fn epoch(self, epoch: u64) -> Self {
        Self {
            epoch,
            key_set: true,
            ..self
        }
    }

    /// Global index of the first image; image `i` has index `i + first_index`.
    pub fn first_index(self, first_index: u64) -> Self {
        Self {
            first_index,
            first_index_set: true,
            ..self
        }
    }

    /// Explicit global indices, one per image (for folders where some files
    /// failed to decode, or shuffled loaders).
    pub fn indices(self, indices: &'a [u64]) -> Self {
        Self {
            indices: Some(indices),
            ..self
        }
    }

    /// Labels, one per source image: `Batch::labels` then holds every output
    /// sample's soft label, mixed as the images are.
    pub fn labels(self, labels: Labels<'a>) -> Self {
        Self {
            labels: Some(labels),
            ..self
        }
    }

    /// Explicit parameters: one `Vec<Drawn>` per output sample (image-major,
    /// `images.len() * views`), one `Drawn` per op. Mixing, if the pipeline
    /// has it, is still drawn from the key unless `mix_records` are given.
    pub fn params(self, drawn: &'a [Vec<Drawn>]) -> Self {
        Self {
            params: Some(drawn),
            ..self
        }
    }

    /// Explicit mixing records, one per output sample (`partner` is a
    /// position in this batch's outputs).
    pub fn mix_records(self, mix: &'a [MixRecord]) -> Self {
        Self {
            mix: Some(mix),
            ..self
        }
    }

    /// Saved records, one per output sample (image-major, as
    /// [`Batch::records`](crate::Batch::records) holds them): each sample is
    /// rendered with its recorded parameters, mixing and index, so the
    /// output is exactly the recorded one (an edited record changes only its
    /// sample, and its partners' mixes). Each record must be of its image
    /// (`source_size`) and view, and a mixing record's partner must be the
    /// record at that position.
    pub fn replay(self, records: &'a [SampleRecord]) -> Self {
        Self {
            replay: Some(records),
            ..self
        }
    }

    /// Targets, one per source image (masks of the image's size, boxes,
    /// keypoints): `Batch::targets` then holds every output sample's,
    /// transformed with its image's geometry (see [`crate::targets`]).
    /// They never change a sample's draws or pixels.
    pub fn targets(self, targets: &'a [crate::targets::Targets]) -> Self {
        Self {
            targets: Some(targets),
            ..self
        }
    }

    /// How targets are transformed and filtered (defaults otherwise).
    pub fn target_options(self, options: &'a crate::targets::TargetOptions) -> Self {
        Self {
            target_options: Some(options),
            ..self
        }
    }

    /// Per-sample overrides, one entry per source image (see
    /// [`Overrides`](crate::Overrides)): each sample's strength,
    /// probability scale, skip flag and policy choice. They change how the
    /// draws map to parameters, not the keys; each record holds its sample's.
    pub fn overrides(self, overrides: &'a crate::steer::Overrides) -> Self {
        Self {
            overrides: Some(overrides),
            ..self
        }
    }

    /// The key id of each view (one per view of the pipeline, `views` of
    /// them): view `v` of every image draws with `keys[v]` as the `view`
    /// argument of the key (instead of `v`). A named view is a pipeline run
    /// with `keys = [view_key(name, 0), .., view_key(name, count - 1)]`
    /// (see [`crate::view_key`] and [`crate::Views`]); records still number
    /// the views `0..views`. Replayed records ignore it.
    pub fn view_keys(self, keys: &'a [u32]) -> Self {
        Self {
            view_keys: Some(keys),
            ..self
        }
    }

    /// Each image's place in its source (see [`SourceWindow`]; one entry per
    /// image, `None` for a whole image).
    pub(crate) fn source_windows(self, windows: &'a [Option<SourceWindow>]) -> Self {
        Self {
            windows: Some(windows),
            ..self
        }
    }

    /// The window of image `i`, when it holds only part of its source.
    pub(crate) fn window(&self, i: usize) -> Option<&'a SourceWindow> {
        self.windows.and_then(|w| w.get(i)).and_then(Option::as_ref)
    }

    /// Every image's source size (width, height): the whole source's for a
    /// windowed image. An error when the windows do not match the images.
    pub(crate) fn source_sizes(&self) -> Result<Vec<[u32; 2]>> {
        check_windows(self.images, self.windows)?;
        Ok(self
            .images
            .iter()
            .enumerate()
            .map(|(i, im)| self.window(i).map_or([im.width(), im.height()], |w| w.full))
            .collect())
    }

    /// An error naming the parts that cannot go together.
    pub(crate) fn check_conflicts(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgument(format!("request: {m}")));
        if self.indices.is_some() && self.first_index_set {
            return bad("indices and first_index (or a key) both given: give the images' global indices one way");
        }
        if self.windows.is_some() && self.targets.is_some() {
            return bad("source windows and targets both given: targets need whole images");
        }
        if self.overrides.is_some() && self.params.is_some() {
            return bad("overrides and params both given: explicit parameters are not drawn, so there is nothing to override");
        }
        if self.replay.is_some() {
            if self.overrides.is_some() {
                return bad(
                    "replay and overrides both given: the records hold each sample's overrides",
                );
            }
            if self.params.is_some() {
                return bad("replay and params both given: the records hold the parameters");
            }
            if self.mix.is_some() {
                return bad(
                    "replay and mix_records both given: the records hold the mixing records",
                );
            }
            if self.indices.is_some() || self.first_index_set {
                return bad(
                    "replay and indices, first_index or a key both given: the records hold the indices",
                );
            }
            if self.key_set {
                return bad("replay and a seed or epoch both given: the records hold every drawn parameter, so a seed or epoch would be ignored");
            }
        }
        Ok(())
    }
}

/// Checks `windows` against `images`: one entry per image, each image inside
/// its source and its exact box inside the image.
pub(crate) fn check_windows(
    images: &[RgbImage],
    windows: Option<&[Option<SourceWindow>]>,
) -> Result<()> {
    let Some(ws) = windows else { return Ok(()) };
    if ws.len() != images.len() {
        return Err(Error::InvalidArgument(format!(
            "request: {} images but {} source windows",
            images.len(),
            ws.len()
        )));
    }
    for (i, (im, w)) in images.iter().zip(ws).enumerate() {
        let Some(w) = w else { continue };
        let [ox, oy] = w.origin.map(u64::from);
        let (x1, y1) = (ox + im.width() as u64, oy + im.height() as u64);
        let [vx0, vy0, vx1, vy1] = w.valid.map(u64::from);
        if x1 > w.full[0] as u64
            || y1 > w.full[1] as u64
            || vx0 < ox
            || vy0 < oy
            || vx1 > x1
            || vy1 > y1
            || vx0 >= vx1
            || vy0 >= vy1
        {
            return Err(Error::InvalidArgument(format!(
                "request: image {i} ({}x{}) does not fit its source window {w:?}",
                im.width(),
                im.height()
            )));
        }
    }
    Ok(())
}
