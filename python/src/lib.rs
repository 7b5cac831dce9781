//! `gpu_augment._native`: the compiled half of the Python package
//! `gpu_augment` (the Python half, in `gpu_augment/`, adds keyword defaults,
//! environment defaults, epochs that advance, `state_dict` and the torch
//! adapter).
//!
//! Rules kept throughout:
//! - only the library's public API is used;
//! - the GIL is released (`Python::detach`) whenever Rust decodes, augments
//!   or waits; waits are cut into slices with a signal check between them,
//!   so Ctrl-C raises `KeyboardInterrupt` promptly;
//! - output tensors are handed over without a copy: the engine's `Vec`
//!   becomes the numpy array's buffer (`PyArray::from_owned_array`).

use gpu_augment as ga;
use numpy::ndarray::{Array1, Array2, ArrayView4};
use numpy::prelude::*;
use numpy::{PyArray1, PyArray2, PyArray4, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::{
    PyFileNotFoundError, PyNotADirectoryError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

mod targets;

/// How long one slice of a wait lasts before signals are checked again.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// The engine's error as the Python exception that fits it, with the
/// engine's message (op position, op, key, allowed range; file and reason).
fn to_py_err(e: ga::Error) -> PyErr {
    use ga::Error as E;
    let msg = e.to_string();
    match &e {
        E::PipelineIo { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        E::PipelineIo { .. } | E::Io { .. } | E::Decode { .. } => PyOSError::new_err(msg),
        E::PipelineSyntax(_)
        | E::PipelineKey { .. }
        | E::UnknownOp { .. }
        | E::UnknownKey { .. }
        | E::InvalidParam { .. }
        | E::InvalidPipeline(_)
        | E::InvalidView { .. }
        | E::InvalidImage { .. }
        | E::OpFailed { .. }
        | E::InvalidTarget { .. }
        | E::InvalidArgument(_) => PyValueError::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

/// The one call into the engine's batch API (when `Augmenter::augment`
/// takes a `Request`, this is the only line to change).
#[allow(clippy::too_many_arguments)]
fn augment_batch(
    aug: &ga::Augmenter,
    images: &[ga::RgbImage],
    labels: Option<&ga::Labels>,
    seed: u64,
    epoch: u64,
    indices: &[u64],
    targets: Option<(&[ga::Targets], &ga::TargetOptions)>,
    overrides: Option<&ga::Overrides>,
) -> ga::Result<ga::Batch> {
    let mut request = ga::Request::new(images)
        .seed(seed)
        .epoch(epoch)
        .indices(indices);
    if let Some(l) = labels {
        request = request.labels(*l);
    }
    if let Some((t, o)) = targets {
        request = request.targets(t).target_options(o);
    }
    if let Some(o) = overrides {
        request = request.overrides(o);
    }
    aug.augment(request)
}

/// Per-sample overrides from Python lists (numpy arrays are turned into
/// lists by the Python layer); policy ops by torchvision's names.
fn overrides_from_py(
    strength: Option<Vec<f64>>,
    p_scale: Option<Vec<f64>>,
    skip: Option<Vec<bool>>,
    policy_ops: Option<Vec<Vec<String>>>,
    policy_weights: Option<Vec<Vec<f64>>>,
) -> PyResult<Option<ga::Overrides>> {
    if strength.is_none()
        && p_scale.is_none()
        && skip.is_none()
        && policy_ops.is_none()
        && policy_weights.is_none()
    {
        return Ok(None);
    }
    let policy_ops = match policy_ops {
        Some(rows) => Some(
            rows.iter()
                .enumerate()
                .map(|(i, row)| {
                    row.iter()
                        .map(|name| {
                            ga::steer::policy_op_named(name).ok_or_else(|| {
                                PyValueError::new_err(format!(
                                    "overrides.policy_ops[{i}]: unknown policy op {name:?} (known: {:?}, Invert)",
                                    ga::ops::policy::RAND_AUGMENT_OPS
                                ))
                            })
                        })
                        .collect::<PyResult<Vec<_>>>()
                })
                .collect::<PyResult<Vec<_>>>()?,
        ),
        None => None,
    };
    Ok(Some(ga::Overrides {
        strength,
        p_scale,
        skip,
        policy_ops,
        policy_weights,
    }))
}

/// An augmentation pipeline (size, format, ops), parsed and checked.
#[pyclass(module = "gpu_augment._native", frozen)]
struct Pipeline {
    inner: ga::Pipeline,
    /// The file's `[targets]` table (the defaults without one).
    target_options: ga::TargetOptions,
}

#[pymethods]
impl Pipeline {
    /// Reads a pipeline file (TOML, the schema in the README).
    #[staticmethod]
    fn from_file(path: PathBuf) -> PyResult<Self> {
        let inner = ga::Pipeline::from_file(&path).map_err(to_py_err)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            PyOSError::new_err(format!("cannot read pipeline file {}: {e}", path.display()))
        })?;
        let target_options = ga::TargetOptions::from_pipeline_toml(&text).map_err(to_py_err)?;
        Ok(Self {
            inner,
            target_options,
        })
    }

    /// Parses a pipeline from TOML text.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Self> {
        let inner = ga::Pipeline::from_toml(text).map_err(to_py_err)?;
        let target_options = ga::TargetOptions::from_pipeline_toml(text).map_err(to_py_err)?;
        Ok(Self {
            inner,
            target_options,
        })
    }

    /// Parses a pipeline from JSON text with the TOML file's schema (what
    /// `Pipeline.from_dict` hands over).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| PyValueError::new_err(format!("pipeline dict: {e}")))?;
        let table = toml::Value::try_from(value)
            .map_err(|e| PyValueError::new_err(format!("pipeline dict: {e}")))?;
        if !table.is_table() {
            return Err(PyValueError::new_err(
                "pipeline dict: expected a mapping at the top level",
            ));
        }
        let text = toml::to_string(&table)
            .map_err(|e| PyValueError::new_err(format!("pipeline dict: {e}")))?;
        Self::from_toml(&text)
    }

    /// Output (height, width).
    #[getter]
    fn size(&self) -> (u32, u32) {
        (self.inner.size.height, self.inner.size.width)
    }

    /// "u8_hwc", "f32_chw", "u8_chw" or "f16_chw".
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format.name()
    }

    /// Views per source image.
    #[getter]
    fn views(&self) -> u32 {
        self.inner.views.max(1)
    }

    /// Channels of each output: 3, or 1 after `grayscale` with
    /// `num_output_channels = 1`.
    #[getter]
    fn channels(&self) -> usize {
        self.inner.out_channels()
    }

    /// The mixing op's `num_classes`, or None when the pipeline does not mix.
    #[getter]
    fn mix_classes(&self) -> Option<usize> {
        self.inner.mix.as_ref().map(|m| m.num_classes)
    }

    /// The `[targets]` table as JSON (its defaults filled in).
    #[getter]
    fn target_options(&self) -> PyResult<String> {
        serde_json::to_string(&self.target_options)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Number of per-sample ops.
    #[getter]
    fn num_ops(&self) -> usize {
        self.inner.ops.len()
    }

    /// (mean, std) of the pipeline's `normalize` op ((0, 1) without one). A
    /// u8_chw pipeline defers it to the consumer: out = (u8 / 255 - mean) /
    /// std (`gpu_augment.torch.normalize`); (0, 1) gives the [0, 1] values.
    fn normalization(&self) -> ([f64; 3], [f64; 3]) {
        self.inner.normalization()
    }

    fn __repr__(&self) -> String {
        let s = self.inner.size;
        format!(
            "Pipeline(size=({}, {}), format={:?}, ops={}, views={}, mixes={})",
            s.height,
            s.width,
            self.format(),
            self.inner.ops.len(),
            self.views(),
            self.inner.mix.is_some()
        )
    }
}

/// One augmented batch (see `gpu_augment.Batch` in the stubs).
#[pyclass(module = "gpu_augment._native")]
struct Batch {
    /// u8 [N, H, W, C] or f32 [N, C, H, W] (C = 3, or 1: `Pipeline.channels`);
    /// its buffer is the engine's.
    #[pyo3(get)]
    images: Py<PyAny>,
    /// f32 [N, C] soft labels, or None.
    #[pyo3(get)]
    labels: Option<Py<PyAny>>,
    /// Per source image: its global sample index (Augmenter) or dataset
    /// index (Loader), uint64.
    #[pyo3(get)]
    indices: Py<PyAny>,
    /// Per output sample: the class of its source (int64), when the dataset
    /// has labels (Loader only).
    #[pyo3(get)]
    classes: Option<Py<PyAny>>,
    /// GPU counters of the batch (None on the CPU).
    #[pyo3(get)]
    gpu_stats: Option<Py<PyAny>>,
    /// Address of the engine's output buffer (tests check that the array's
    /// data pointer is this one: no copy).
    #[pyo3(get)]
    buffer_address: usize,
    /// The loader's epoch (None from an Augmenter).
    #[pyo3(get)]
    epoch: Option<u64>,
    /// The batch's position in this rank's epoch (None from an Augmenter).
    #[pyo3(get)]
    index: Option<usize>,
    /// Files of this batch that could not be read or decoded: (path, reason).
    #[pyo3(get)]
    skipped: Vec<(String, String)>,
    /// Views per source image.
    #[pyo3(get)]
    views: u32,
    /// Per output sample, its transformed targets (a dict of numpy arrays),
    /// when targets were given.
    #[pyo3(get)]
    targets: Option<Py<PyAny>>,
    records: Vec<ga::SampleRecord>,
    records_py: Mutex<Option<Py<PyAny>>>,
}

#[pymethods]
impl Batch {
    /// One dict per output sample: what params.jsonl holds (index, view,
    /// source_size, ops, mix), without the file name.
    #[getter]
    fn records(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut cache = self
            .records_py
            .lock()
            .map_err(|_| PyRuntimeError::new_err("records cache poisoned"))?;
        if let Some(r) = cache.as_ref() {
            return Ok(r.clone_ref(py));
        }
        let text = serde_json::to_string(&self.records)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let list = py.import("json")?.call_method1("loads", (text,))?.unbind();
        *cache = Some(list.clone_ref(py));
        Ok(list)
    }

    fn __len__(&self) -> usize {
        self.records.len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let shape = self.images.bind(py).getattr("shape")?.repr()?.to_string();
        Ok(format!(
            "Batch(images={shape}, labels={}, epoch={:?}, index={:?})",
            self.labels.is_some(),
            self.epoch,
            self.index
        ))
    }
}

/// Where a batch's tensor goes back once Python no longer reads it.
enum Home {
    /// An Augmenter's pool (`Augmenter::recycle_tensor`).
    Augmenter(Arc<ga::Augmenter>),
    /// A Loader's, for batch `usize` (`Loader::recycle_tensor`).
    Loader(Arc<ga::Loader>, usize),
}

/// The base object of a batch's numpy array: it owns the engine's tensor
/// (the array's buffer, no copy). When the array and every view of it (a
/// `torch.from_numpy` tensor included) are gone, Python drops it and the
/// tensor goes back to its pool, so the next batch of that size is written
/// into memory already mapped instead of a fresh, page-faulting allocation
/// (a fifth of the Python Loader's time went to zeroing fresh pages). A
/// batch the consumer still holds is never reused.
#[pyclass(module = "gpu_augment._native", frozen)]
struct TensorOwner {
    tensor: Option<ga::Tensor>,
    home: Option<Home>,
}

impl Drop for TensorOwner {
    fn drop(&mut self) {
        match (self.tensor.take(), self.home.take()) {
            (Some(t), Some(Home::Augmenter(a))) => a.recycle_tensor(t),
            (Some(t), Some(Home::Loader(l, index))) => l.recycle_tensor(index, t),
            _ => {}
        }
    }
}

/// Hands the engine's tensor to a numpy array without copying it: the array
/// views the tensor, owned by a [`TensorOwner`] as the array's base.
fn tensor_to_numpy(
    py: Python<'_>,
    data: ga::Tensor,
    shape: [usize; 4],
    home: Option<Home>,
) -> PyResult<(Py<PyAny>, usize)> {
    let bad = |e: numpy::ndarray::ShapeError| PyRuntimeError::new_err(e.to_string());
    let owner = Bound::new(
        py,
        TensorOwner {
            tensor: Some(data),
            home,
        },
    )?;
    let base = owner.clone().into_any();
    // SAFETY (both arms): the tensor lives in `owner`, the array's base
    // object, and is neither moved out nor reallocated before the owner is
    // dropped (only `Drop` takes it), which Python does after the array.
    Ok(match owner.get().tensor.as_ref() {
        Some(ga::Tensor::U8(v)) => {
            let view = ArrayView4::from_shape(shape, v.as_slice()).map_err(bad)?;
            let a = unsafe { PyArray4::borrow_from_array(&view, base) };
            (a.into_any().unbind(), v.as_ptr() as usize)
        }
        Some(ga::Tensor::F32(v)) => {
            let view = ArrayView4::from_shape(shape, v.as_slice()).map_err(bad)?;
            let a = unsafe { PyArray4::borrow_from_array(&view, base) };
            (a.into_any().unbind(), v.as_ptr() as usize)
        }
        // numpy float16 (rust-numpy's `half` feature: `half::f16` is NPY_HALF).
        Some(ga::Tensor::F16(v)) => {
            let view = ArrayView4::from_shape(shape, v.as_slice()).map_err(bad)?;
            let a = unsafe { PyArray4::borrow_from_array(&view, base) };
            (a.into_any().unbind(), v.as_ptr() as usize)
        }
        None => return Err(PyRuntimeError::new_err("batch tensor missing")),
    })
}

fn stats_dict(py: Python<'_>, s: &ga::gpu::BatchStats) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("dispatches", s.dispatches)?;
    d.set_item("submits", s.submits)?;
    d.set_item("chunks", s.chunks)?;
    d.set_item("bytes_up", s.bytes_up)?;
    d.set_item("bytes_down", s.bytes_down)?;
    d.set_item("pack_ns", s.pack_ns)?;
    d.set_item("device_ns", s.device_ns)?;
    d.set_item("readback_ns", s.readback_ns)?;
    d.set_item("allocations", s.allocations)?;
    Ok(d.into_any().unbind())
}

/// Extras a loader batch carries beside the engine's batch.
struct FromLoader {
    epoch: u64,
    index: usize,
    skipped: Vec<(String, String)>,
    classes: Option<Vec<i64>>,
}

fn batch_to_py(
    py: Python<'_>,
    b: ga::Batch,
    indices: Vec<u64>,
    views: u32,
    extra: Option<FromLoader>,
    home: Option<Home>,
) -> PyResult<Batch> {
    let (images, buffer_address) = tensor_to_numpy(py, b.data, b.shape, home)?;
    let labels = match b.labels {
        Some(l) => {
            let rows = l.rows();
            let a = Array2::from_shape_vec((rows, l.num_classes), l.data)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            Some(PyArray2::from_owned_array(py, a).into_any().unbind())
        }
        None => None,
    };
    let gpu_stats = b
        .gpu_stats
        .as_ref()
        .map(|s| stats_dict(py, s))
        .transpose()?;
    let indices = PyArray1::from_owned_array(py, Array1::from_vec(indices))
        .into_any()
        .unbind();
    let targets = match b.targets {
        Some(t) => Some(
            t.into_iter()
                .map(|s| targets::sample_targets_to_py(py, s))
                .collect::<PyResult<Vec<_>>>()?
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        ),
        None => None,
    };
    let (epoch, index, skipped, classes) = match extra {
        Some(x) => (
            Some(x.epoch),
            Some(x.index),
            x.skipped,
            x.classes.map(|c| {
                PyArray1::from_owned_array(py, Array1::from_vec(c))
                    .into_any()
                    .unbind()
            }),
        ),
        None => (None, None, Vec::new(), None),
    };
    Ok(Batch {
        images,
        labels,
        indices,
        classes,
        gpu_stats,
        buffer_address,
        epoch,
        index,
        skipped,
        views,
        targets,
        records: b.records,
        records_py: Mutex::new(None),
    })
}

/// An input image: decoded already (copied out of a numpy array) or a file.
enum Input {
    Image(ga::RgbImage),
    Path(PathBuf),
}

fn extract_input(i: usize, obj: &Bound<'_, PyAny>) -> PyResult<Input> {
    if let Ok(a) = obj.extract::<PyReadonlyArray3<'_, u8>>() {
        let shape = a.shape();
        let (h, w, c) = (shape[0], shape[1], shape[2]);
        if c != 3 {
            return Err(PyValueError::new_err(format!(
                "image {i}: expected an H x W x 3 uint8 array, got shape {shape:?}"
            )));
        }
        // `as_slice` also accepts Fortran order (memory order); only a
        // C-contiguous array's memory is row-major HWC.
        let data = match a.as_slice() {
            Ok(s) if a.is_c_contiguous() => s.to_vec(),
            _ => a.as_array().iter().copied().collect(),
        };
        let img = ga::RgbImage::from_raw(w as u32, h as u32, data).ok_or_else(|| {
            PyValueError::new_err(format!("image {i}: {h} x {w} x 3 does not fit"))
        })?;
        return Ok(Input::Image(img));
    }
    if let Ok(p) = obj.extract::<PathBuf>() {
        return Ok(Input::Path(p));
    }
    let ty = obj.get_type().name()?.to_string();
    Err(PyTypeError::new_err(format!(
        "image {i}: expected an H x W x 3 uint8 numpy array or a path, got {ty}"
    )))
}

/// A pipeline bound to a backend; call it on a batch of images.
#[pyclass(module = "gpu_augment._native", frozen)]
struct Augmenter {
    inner: Arc<ga::Augmenter>,
    /// The pipeline's `[targets]` table.
    target_options: ga::TargetOptions,
}

#[pymethods]
impl Augmenter {
    #[new]
    #[pyo3(signature = (pipeline, backend = "auto"))]
    fn new(py: Python<'_>, pipeline: &Pipeline, backend: &str) -> PyResult<Self> {
        let backend: ga::Backend = backend.parse().map_err(to_py_err)?;
        let p = pipeline.inner.clone();
        let inner = py
            .detach(move || ga::Augmenter::new(p, backend))
            .map_err(to_py_err)?;
        Ok(Self {
            inner: Arc::new(inner),
            target_options: pipeline.target_options.clone(),
        })
    }

    /// "gpu" or "cpu".
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend_kind()
    }

    /// The backend and, on the GPU, the adapter's name.
    #[getter]
    fn backend_name(&self) -> String {
        self.inner.backend_name()
    }

    /// Augments `images` (uint8 H x W x 3 arrays or paths); source `i` has
    /// global index `indices[i]`. `classes` (one per image, below
    /// `num_classes`) or `soft` (images x C float32 rows) are the labels.
    /// `targets`: one dict per image (see `targets.rs`); `target_options`:
    /// their options as JSON (the pipeline's `[targets]` table when None).
    /// `strength`, `p_scale`, `skip`, `policy_ops` and `policy_weights`
    /// (one entry per image) are the per-sample overrides.
    #[pyo3(signature = (images, indices, seed, epoch, classes = None, soft = None, num_classes = None,
                        targets = None, target_options = None, strength = None, p_scale = None,
                        skip = None, policy_ops = None, policy_weights = None))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        images: Vec<Bound<'_, PyAny>>,
        indices: Vec<u64>,
        seed: u64,
        epoch: u64,
        classes: Option<Vec<u32>>,
        soft: Option<PyReadonlyArray2<'_, f32>>,
        num_classes: Option<usize>,
        targets: Option<Vec<Bound<'_, PyDict>>>,
        target_options: Option<&str>,
        strength: Option<Vec<f64>>,
        p_scale: Option<Vec<f64>>,
        skip: Option<Vec<bool>>,
        policy_ops: Option<Vec<Vec<String>>>,
        policy_weights: Option<Vec<Vec<f64>>>,
    ) -> PyResult<Batch> {
        let overrides = overrides_from_py(strength, p_scale, skip, policy_ops, policy_weights)?;
        let (targets, options) = targets::read_all(
            targets,
            target_options,
            &self.target_options,
            targets::targets_from_py,
        )?;
        let inputs: Vec<Input> = images
            .iter()
            .enumerate()
            .map(|(i, o)| extract_input(i, o))
            .collect::<PyResult<_>>()?;
        let soft_rows: Option<(Vec<f32>, usize)> = match &soft {
            Some(a) => {
                let c = a.shape()[1];
                Some((a.as_array().iter().copied().collect(), c))
            }
            None => None,
        };
        let mix_classes = self.inner.pipeline().mix.as_ref().map(|m| m.num_classes);
        let aug = self.inner.clone();
        let views = aug.pipeline().views.max(1);
        let idx = indices.clone();
        let b = py.detach(move || -> ga::Result<ga::Batch> {
            let images: Vec<ga::RgbImage> = inputs
                .into_par_iter()
                .map(|i| match i {
                    Input::Image(im) => Ok(im),
                    Input::Path(p) => ga::load_image(&p),
                })
                .collect::<ga::Result<_>>()?;
            let labels = match (&classes, &soft_rows) {
                (Some(c), _) => Some(ga::Labels::Classes {
                    classes: c,
                    num_classes: num_classes
                        .or(mix_classes)
                        .unwrap_or_else(|| c.iter().max().map_or(1, |m| *m as usize + 1)),
                }),
                (None, Some((rows, nc))) => Some(ga::Labels::Soft {
                    rows,
                    num_classes: *nc,
                }),
                (None, None) => None,
            };
            let t = targets.as_deref().map(|t| (t, &options));
            augment_batch(
                &aug,
                &images,
                labels.as_ref(),
                seed,
                epoch,
                &idx,
                t,
                overrides.as_ref(),
            )
        });
        let b = b.map_err(to_py_err)?;
        batch_to_py(
            py,
            b,
            indices,
            views,
            None,
            Some(Home::Augmenter(self.inner.clone())),
        )
    }
}

/// Named views (`[[views]]` tables of a pipeline file) on a backend: one
/// batch per view.
#[pyclass(module = "gpu_augment._native", frozen)]
struct ViewAugmenter {
    inner: Arc<ga::ViewAugmenter>,
}

#[pymethods]
impl ViewAugmenter {
    /// Parses `[[views]]` TOML text and binds it to `backend`.
    #[new]
    #[pyo3(signature = (text, backend = "auto"))]
    fn new(py: Python<'_>, text: &str, backend: &str) -> PyResult<Self> {
        let backend: ga::Backend = backend.parse().map_err(to_py_err)?;
        let views = ga::Views::from_toml(text).map_err(to_py_err)?;
        let inner = py
            .detach(move || ga::ViewAugmenter::new(views, backend))
            .map_err(to_py_err)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// "gpu" or "cpu".
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend_kind()
    }

    /// (name, count, (height, width), format) of every view, in file order.
    #[getter]
    fn views(&self) -> Vec<(String, u32, (u32, u32), &'static str)> {
        self.inner
            .views()
            .views()
            .iter()
            .map(|v| {
                let s = v.pipeline.size;
                let f = v.pipeline.format.name();
                (v.name.clone(), v.count(), (s.height, s.width), f)
            })
            .collect()
    }

    /// Augments `images` (uint8 H x W x 3 arrays or paths) through every
    /// view: a list of (name, Batch) in file order, each Batch N x count
    /// samples, image-major, records with `view_name`.
    #[pyo3(signature = (images, indices, seed, epoch, classes = None, num_classes = None))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        images: Vec<Bound<'_, PyAny>>,
        indices: Vec<u64>,
        seed: u64,
        epoch: u64,
        classes: Option<Vec<u32>>,
        num_classes: Option<usize>,
    ) -> PyResult<Vec<(String, Batch)>> {
        let inputs: Vec<Input> = images
            .iter()
            .enumerate()
            .map(|(i, o)| extract_input(i, o))
            .collect::<PyResult<_>>()?;
        let aug = self.inner.clone();
        let idx = indices.clone();
        let out = py
            .detach(move || -> ga::Result<Vec<ga::ViewBatch>> {
                let images: Vec<ga::RgbImage> = inputs
                    .into_par_iter()
                    .map(|i| match i {
                        Input::Image(im) => Ok(im),
                        Input::Path(p) => ga::load_image(&p),
                    })
                    .collect::<ga::Result<_>>()?;
                let mut request = ga::Request::new(&images)
                    .seed(seed)
                    .epoch(epoch)
                    .indices(&idx);
                let labels = classes.as_ref().map(|c| ga::Labels::Classes {
                    classes: c,
                    num_classes: num_classes
                        .unwrap_or_else(|| c.iter().max().map_or(1, |m| *m as usize + 1)),
                });
                if let Some(l) = &labels {
                    request = request.labels(*l);
                }
                aug.augment(request)
            })
            .map_err(to_py_err)?;
        out.into_iter()
            .map(|v| {
                let b = batch_to_py(py, v.batch, indices.clone(), v.count, None, None)?;
                Ok((v.name, b))
            })
            .collect()
    }
}

/// The streaming loader (decode, augment and hand-over overlapped on the
/// engine's own threads).
#[pyclass(module = "gpu_augment._native", frozen)]
struct Loader {
    inner: Arc<ga::Loader>,
}

fn parse_tail(s: &str) -> PyResult<ga::loader::ShardTail> {
    match s {
        "pad" => Ok(ga::loader::ShardTail::Pad),
        "drop" => Ok(ga::loader::ShardTail::Drop),
        "uneven" => Ok(ga::loader::ShardTail::Uneven),
        o => Err(PyValueError::new_err(format!(
            "shard_tail must be \"pad\", \"drop\" or \"uneven\", got {o:?}"
        ))),
    }
}

#[pymethods]
impl Loader {
    #[new]
    #[pyo3(signature = (root, paths, labels, pipeline, *, batch_size, shuffle, seed, drop_last,
                        rank, world_size, shard_tail, backend, decode_threads, augment_threads,
                        prefetch, devices, num_classes, targets = None, target_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        root: Option<PathBuf>,
        paths: Option<Vec<PathBuf>>,
        labels: Option<Vec<u32>>,
        pipeline: &Pipeline,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        drop_last: bool,
        rank: usize,
        world_size: usize,
        shard_tail: &str,
        backend: &str,
        decode_threads: Option<usize>,
        augment_threads: Option<usize>,
        prefetch: usize,
        devices: usize,
        num_classes: Option<usize>,
        targets: Option<Vec<Bound<'_, PyDict>>>,
        target_options: Option<&str>,
    ) -> PyResult<Self> {
        let (item_targets, options) = targets::read_all(
            targets,
            target_options,
            &pipeline.target_options,
            targets::item_targets_from_py,
        )?;
        let backend: ga::Backend = backend.parse().map_err(to_py_err)?;
        let shard_tail = parse_tail(shard_tail)?;
        let mix_classes = pipeline.inner.mix.as_ref().map(|m| m.num_classes);
        let pipeline = pipeline.inner.clone();
        let dataset = match (root, paths) {
            (Some(root), _) => {
                if !root.exists() {
                    return Err(PyFileNotFoundError::new_err((
                        2,
                        "No such file or directory (the loader's root)",
                        root.display().to_string(),
                    )));
                }
                if !root.is_dir() {
                    return Err(PyNotADirectoryError::new_err((
                        20,
                        "Not a directory (the loader's root)",
                        root.display().to_string(),
                    )));
                }
                py.detach(|| match ga::Dataset::image_folder(&root) {
                    Ok(d) => Ok(d),
                    // Not the ImageFolder layout: every image, without labels.
                    Err(ga::Error::InvalidArgument(_)) => ga::Dataset::folder(&root),
                    Err(e) => Err(e),
                })
                .map_err(to_py_err)?
            }
            (None, Some(paths)) => match labels {
                Some(l) => {
                    if l.len() != paths.len() {
                        return Err(PyValueError::new_err(format!(
                            "{} paths but {} labels",
                            paths.len(),
                            l.len()
                        )));
                    }
                    let nc = num_classes
                        .or(mix_classes)
                        .unwrap_or_else(|| l.iter().max().map_or(1, |m| *m as usize + 1));
                    ga::Dataset::from_labeled(paths.into_iter().zip(l).collect(), nc)
                        .map_err(to_py_err)?
                }
                None => ga::Dataset::from_paths(paths),
            },
            (None, None) => {
                return Err(PyValueError::new_err(
                    "give an ImageFolder root or a list of paths",
                ))
            }
        };
        let dataset = match item_targets {
            Some(t) => dataset.with_targets(t, options).map_err(to_py_err)?,
            None => dataset,
        };
        let mut opts = ga::LoaderOptions {
            batch_size,
            backend,
            seed,
            shuffle,
            drop_last,
            shard_tail,
            rank,
            world_size,
            augment_threads,
            prefetch,
            devices,
            ..Default::default()
        };
        if let Some(t) = decode_threads {
            opts.decode_threads = t;
        }
        let inner = py
            .detach(move || ga::Loader::new(dataset, pipeline, opts))
            .map_err(to_py_err)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Per-sample overrides for the epochs started from now on: one entry
    /// per dataset item (all None: none). Checked against the pipeline here,
    /// so a bad table fails at this call, not in a worker mid-epoch.
    #[pyo3(signature = (strength, p_scale, skip, policy_ops, policy_weights))]
    fn set_overrides(
        &self,
        strength: Option<Vec<f64>>,
        p_scale: Option<Vec<f64>>,
        skip: Option<Vec<bool>>,
        policy_ops: Option<Vec<Vec<String>>>,
        policy_weights: Option<Vec<Vec<f64>>>,
    ) -> PyResult<()> {
        let table = overrides_from_py(strength, p_scale, skip, policy_ops, policy_weights)?;
        let Some(table) = table else {
            self.inner.set_overrides(None);
            return Ok(());
        };
        let n = self.inner.dataset().len();
        table
            .per_sample(n, &self.inner.pipeline().ops)
            .map_err(|e| {
                PyValueError::new_err(format!(
                    "Loader.set_overrides (a table of one entry per dataset item, {n} items): {e}"
                ))
            })?;
        self.inner
            .set_overrides(Some(Arc::new(move |_epoch: u64, items: &[usize]| {
                table.select(items)
            })));
        Ok(())
    }

    /// Batches in this rank's epoch.
    fn __len__(&self) -> usize {
        self.inner.batches_per_epoch()
    }

    /// The batches of `epoch` from batch `start` on (byte for byte those of
    /// an uninterrupted epoch).
    #[pyo3(signature = (epoch, start = 0))]
    fn epoch(&self, py: Python<'_>, epoch: u64, start: usize) -> PyResult<EpochIter> {
        let l = self.inner.clone();
        let e = py
            .detach(move || l.resume_owned(epoch, start))
            .map_err(to_py_err)?;
        let dataset = self.inner.dataset();
        Ok(EpochIter {
            epoch: Mutex::new(Some(e)),
            loader: self.inner.clone(),
            labels: dataset
                .has_labels()
                .then(|| (0..dataset.len()).map(|i| dataset.label(i)).collect()),
            views: self.inner.pipeline().views.max(1),
        })
    }

    /// This rank's batches of `epoch` (dataset indices), before decoding.
    fn plan(&self, epoch: u64) -> Vec<Vec<usize>> {
        self.inner.plan(epoch)
    }

    /// Number of items in the dataset (all ranks).
    #[getter]
    fn dataset_len(&self) -> usize {
        self.inner.dataset().len()
    }

    /// The file of dataset item `i`.
    fn path(&self, i: usize) -> Option<PathBuf> {
        self.inner.dataset().path(i).map(PathBuf::from)
    }

    /// Class names (ImageFolder: the folder names; empty without labels).
    #[getter]
    fn classes(&self) -> Vec<String> {
        self.inner.dataset().classes().to_vec()
    }

    /// "gpu" or "cpu".
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend_kind()
    }

    /// The backend in words.
    #[getter]
    fn backend_name(&self) -> String {
        self.inner.backend_name()
    }

    /// Every file skipped so far, with the reason: [(path, reason)].
    fn skipped_files(&self) -> Vec<(String, String)> {
        self.inner
            .skipped_files()
            .into_iter()
            .map(|(p, r)| (p.display().to_string(), r))
            .collect()
    }

    /// Cumulative counters (images decoded, files skipped, busy seconds of
    /// each stage).
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("decoded", s.decoded)?;
        d.set_item("region_decoded", s.region_decoded)?;
        d.set_item("skipped", s.skipped)?;
        d.set_item("batches", s.batches)?;
        d.set_item("decode_busy_s", s.decode_busy_s)?;
        d.set_item("augment_busy_s", s.augment_busy_s)?;
        d.set_item("consumer_wait_s", s.consumer_wait_s)?;
        d.set_item("decode_threads", s.decode_threads)?;
        d.set_item("augment_workers", s.augment_workers)?;
        Ok(d.into_any().unbind())
    }
}

/// One epoch in flight: iterate for its batches; `close()` stops its threads.
#[pyclass(module = "gpu_augment._native")]
struct EpochIter {
    epoch: Mutex<Option<ga::Epoch<'static>>>,
    /// The loader, whose pool the batches' tensors go back to.
    loader: Arc<ga::Loader>,
    /// Every dataset item's class (None without labels).
    labels: Option<Vec<Option<u32>>>,
    views: u32,
}

#[pymethods]
impl EpochIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Batch>> {
        let got = loop {
            // The GIL is released while the epoch's threads work; every
            // slice ends with a signal check (Ctrl-C -> KeyboardInterrupt).
            let r = py.detach(|| match self.epoch.lock() {
                Ok(mut g) => match g.as_mut() {
                    Some(e) => e.next_timeout(WAIT_SLICE),
                    None => Poll::Ready(None),
                },
                Err(_) => Poll::Ready(Some(Err(ga::Error::Loader(
                    "the epoch's lock was poisoned".into(),
                )))),
            });
            match r {
                Poll::Ready(r) => break r,
                Poll::Pending => py.check_signals()?,
            }
        };
        match got {
            None => {
                self.close(py);
                Ok(None)
            }
            Some(Err(e)) => {
                self.close(py);
                Err(to_py_err(e))
            }
            Some(Ok(lb)) => {
                let views = self.views;
                let classes = self.labels.as_ref().map(|l| {
                    lb.items
                        .iter()
                        .flat_map(|&i| {
                            let c = l.get(i).copied().flatten().map_or(-1, i64::from);
                            std::iter::repeat_n(c, views as usize)
                        })
                        .collect()
                });
                let extra = FromLoader {
                    epoch: lb.epoch,
                    index: lb.index,
                    skipped: lb
                        .skipped
                        .into_iter()
                        .map(|(p, r)| (p.display().to_string(), r))
                        .collect(),
                    classes,
                };
                let indices = lb.items.iter().map(|&i| i as u64).collect();
                let home = Home::Loader(self.loader.clone(), lb.index);
                batch_to_py(py, lb.batch, indices, views, Some(extra), Some(home)).map(Some)
            }
        }
    }

    /// Batches still to come (0 once closed).
    fn remaining(&self) -> usize {
        self.epoch
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|e| e.remaining()))
            .unwrap_or(0)
    }

    /// Stops the epoch's threads and waits for them (GIL released).
    fn close(&self, py: Python<'_>) {
        let e = self.epoch.lock().ok().and_then(|mut g| g.take());
        py.detach(move || drop(e));
    }
}

/// The compiled part of `gpu_augment`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Pipeline>()?;
    m.add_class::<Augmenter>()?;
    m.add_class::<ViewAugmenter>()?;
    m.add_class::<Batch>()?;
    m.add_class::<Loader>()?;
    m.add_class::<EpochIter>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
