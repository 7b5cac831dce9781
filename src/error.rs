//! The library's one error type.

use std::path::PathBuf;

/// Everything the library can refuse or fail at. Each variant names what is
/// wrong (the op, the key, the file) so a message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pipeline file could not be read.
    #[error("cannot read pipeline file {path}: {source}")]
    PipelineIo {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A pipeline file is not valid TOML.
    #[error("pipeline file is not valid TOML: {0}")]
    PipelineSyntax(String),
    /// A top-level key of the pipeline is wrong.
    #[error("pipeline key `{key}`: {message}")]
    PipelineKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// An op name that does not exist.
    #[error("op #{index}: unknown op `{name}` (known ops: {known})")]
    UnknownOp {
        /// Position of the op in the pipeline (0-based).
        index: usize,
        /// The name given.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// A key an op does not take.
    #[error("op #{index} `{op}`: unknown key `{key}` (allowed keys: {allowed})")]
    UnknownKey {
        /// Position of the op in the pipeline (0-based).
        index: usize,
        /// The op.
        op: String,
        /// The key given.
        key: String,
        /// The keys the op takes.
        allowed: String,
    },
    /// A parameter value out of range or of the wrong type.
    #[error("op #{index} `{op}`: key `{key}`: {message}")]
    InvalidParam {
        /// Position of the op in the pipeline (0-based).
        index: usize,
        /// The op.
        op: String,
        /// The key.
        key: String,
        /// What is allowed, and what was given.
        message: String,
    },
    /// A pipeline whose ops do not fit together.
    #[error("invalid pipeline: {0}")]
    InvalidPipeline(String),
    /// A named view (`[[views]]` table) of a pipeline file that is wrong.
    #[error("view `{view}`, key `{key}`: {message}")]
    InvalidView {
        /// The view's name (or `#i` for the i-th table when it has no usable name).
        view: String,
        /// The key of the view's table (`ops` for its ops).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An input image the engine cannot work on.
    #[error("image {index}: {message}")]
    InvalidImage {
        /// Position in the batch.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// An op whose drawn geometry cannot apply to an image (e.g. a crop larger than it).
    #[error("image {index}: op `{op}`: {message}")]
    OpFailed {
        /// Position in the batch.
        index: usize,
        /// The op.
        op: String,
        /// What went wrong.
        message: String,
    },
    /// A parameter record (e.g. a line of `params.jsonl`) that cannot be read.
    #[error("record field `{field}`: {message}")]
    InvalidRecord {
        /// The field, as a path (`ops[1].angle`, `mix.lam`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file that could not be read or decoded.
    #[error("{path}: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why it could not be decoded.
        reason: String,
    },
    /// A target (mask, box, keypoint) given with an image that is wrong.
    #[error("image {index}: targets field `{field}`: {message}")]
    InvalidTarget {
        /// Position of the image in the batch.
        index: usize,
        /// The field (`masks[0]`, `boxes[3]`, `keypoints`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The GPU backend was asked for but no adapter exists.
    #[error("no GPU adapter found (on Linux without a GPU, install Mesa's lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)")]
    NoAdapter,
    /// Any failure of the GPU device (device lost, out of memory, validation).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// Labels or other batch inputs that do not match the images.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The loader's worker threads failed or stopped (a panic, a thread that
    /// could not start).
    #[error("loader: {0}")]
    Loader(String),
    /// A buffer that cannot be allocated (more than the host or the device
    /// can hold): the request is refused instead of aborting the process.
    #[error("cannot allocate {bytes} bytes for {what}: more than this process can hold (lower the batch size or the output size)")]
    OutOfMemory {
        /// What the buffer was for.
        what: String,
        /// Its size.
        bytes: u64,
    },
    /// An I/O error while writing results.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
