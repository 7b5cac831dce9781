//! The threads of one epoch: decoders, augment workers, and the consuming
//! iterator that hands batches out in order.

use super::{Counters, Loader, LoaderBatch};
use crate::engine::{load_image_region, Augmenter};
use crate::error::{Error, Result};
use crate::mix::Labels;
use crate::request::{Request, SourceWindow};
use crate::RgbImage;
use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One decoded item: the image (with its place in the source after a region
/// decode), or why it could not be had.
type Item = std::result::Result<(RgbImage, Option<SourceWindow>), (PathBuf, String)>;

/// A batch whose every item has been decoded (or failed).
struct Decoded {
    pos: usize,
    items: Vec<Item>,
}

/// What the augment workers hand the consumer: a batch, `None` when every
/// file of the batch failed, or the error that stopped the batch.
type Done = (usize, Result<Option<LoaderBatch>>);

struct Sched {
    /// Next (position in the plan, item within the batch) to claim.
    next: (usize, usize),
    /// Batches the consumer has taken (positions below this are gone).
    taken: usize,
    /// Batches being decoded: the items so far and how many are still missing.
    assembling: HashMap<usize, (Vec<Option<Item>>, usize)>,
}

/// State shared by the epoch's threads.
struct Shared {
    epoch: u64,
    seed: u64,
    /// (batch index in the epoch, dataset indices), in order.
    plan: Vec<(usize, Vec<usize>)>,
    prefetch: usize,
    sched: Mutex<Sched>,
    cv: Condvar,
    stop: AtomicBool,
    dataset: Arc<super::Dataset>,
    num_classes: usize,
    counters: Arc<Counters>,
    exif_orientation: bool,
    overrides: Option<Arc<super::OverridesFn>>,
    /// Region decode's planner (None: every item decoded whole).
    region: Option<Arc<Augmenter>>,
}

/// The batches of one epoch, in order: an iterator of `Result<LoaderBatch>`.
/// Ends after the last batch or after the first error. Dropping it (at any
/// point) stops and joins its threads.
///
/// `Loader::epoch` gives one that borrows the loader; `Loader::epoch_owned`
/// (on an `Arc<Loader>`) one that holds the loader itself, `Epoch<'static>`,
/// for bindings and threads that cannot borrow.
pub struct Epoch<'a> {
    shared: Arc<Shared>,
    rx: Option<Receiver<Done>>,
    pending: BTreeMap<usize, Result<Option<LoaderBatch>>>,
    next_pos: usize,
    failed: bool,
    threads: Vec<JoinHandle<()>>,
    // Dropped after `Drop::drop` has joined the threads (fields drop after it).
    _owner: Option<Arc<Loader>>,
    _loader: std::marker::PhantomData<&'a Loader>,
}

impl<'a> Epoch<'a> {
    /// The threads only hold `Arc`s of the loader's parts, so the lifetime is
    /// the caller's choice: `&'a Loader` for borrowed epochs, `'static` with
    /// `owner` keeping the loader alive.
    pub(super) fn start(
        loader: &Loader,
        owner: Option<Arc<Loader>>,
        epoch: u64,
        plan: Vec<(usize, Vec<usize>)>,
    ) -> Result<Self> {
        let overrides = loader.overrides_source();
        let region = loader.region_source(overrides.is_some());
        let shared = Arc::new(Shared {
            epoch,
            seed: loader.opts.seed,
            plan,
            prefetch: loader.opts.prefetch,
            sched: Mutex::new(Sched {
                next: (0, 0),
                taken: 0,
                assembling: HashMap::new(),
            }),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
            dataset: loader.dataset.clone(),
            num_classes: loader.num_classes,
            counters: loader.counters.clone(),
            exif_orientation: loader.opts.exif_orientation,
            overrides,
            region,
        });
        let (done_tx, done_rx) = channel::<Done>();
        let (dec_tx, dec_rx) = channel::<Decoded>();
        let dec_rx = Arc::new(Mutex::new(dec_rx));
        let mut me = Self {
            shared: shared.clone(),
            rx: Some(done_rx),
            pending: BTreeMap::new(),
            next_pos: 0,
            failed: false,
            threads: Vec::new(),
            _owner: owner,
            _loader: std::marker::PhantomData,
        };
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(f)
                .map_err(|e| Error::Loader(format!("cannot start thread {name}: {e}")))
        };
        // On an error below, dropping `me` stops and joins what started.
        for i in 0..loader.opts.decode_threads {
            let (s, tx) = (shared.clone(), dec_tx.clone());
            me.threads.push(spawn(
                format!("ga-decode-{i}"),
                Box::new(move || decode_loop(&s, &tx)),
            )?);
        }
        drop(dec_tx);
        let per_engine = if loader.gpu {
            loader.opts.streams_per_device
        } else {
            1
        };
        let mut w = 0;
        for aug in &loader.engines {
            for _ in 0..per_engine {
                let (s, rx, tx, aug) =
                    (shared.clone(), dec_rx.clone(), done_tx.clone(), aug.clone());
                let pool = loader.cpu_pool.clone();
                me.threads.push(spawn(
                    format!("ga-augment-{w}"),
                    Box::new(move || {
                        let pool = pool.as_ref().and_then(|p| p.pool.as_ref());
                        augment_loop(&s, &rx, &tx, &aug, pool)
                    }),
                )?);
                w += 1;
            }
        }
        Ok(me)
    }

    /// Batches of this epoch still to come (including empty ones that will
    /// be passed over).
    pub fn remaining(&self) -> usize {
        self.shared.plan.len().saturating_sub(self.next_pos)
    }
}

impl Epoch<'_> {
    /// Like `next()`, but waits at most `timeout` for the next batch:
    /// `Poll::Pending` when none came in time (call again; nothing is lost).
    /// Lets a caller wait in slices, e.g. to check for Ctrl-C between them.
    pub fn next_timeout(&mut self, timeout: Duration) -> Poll<Option<Result<LoaderBatch>>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> Poll<Option<Result<LoaderBatch>>> {
        let sh = self.shared.clone();
        let start = Instant::now();
        let out = loop {
            if self.failed || self.next_pos >= sh.plan.len() {
                break Poll::Ready(None);
            }
            if let Some(r) = self.pending.remove(&self.next_pos) {
                self.next_pos += 1;
                if let Ok(mut s) = sh.sched.lock() {
                    s.taken = self.next_pos;
                }
                sh.cv.notify_all();
                match r {
                    Ok(Some(b)) => {
                        sh.counters.batches.fetch_add(1, Ordering::Relaxed);
                        break Poll::Ready(Some(Ok(b)));
                    }
                    Ok(None) => continue,
                    Err(e) => {
                        self.failed = true;
                        break Poll::Ready(Some(Err(e)));
                    }
                }
            }
            let got = self.rx.as_ref().map(|rx| match deadline {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            });
            match got {
                Some(Ok((pos, r))) => {
                    self.pending.insert(pos, r);
                }
                Some(Err(RecvTimeoutError::Timeout)) => break Poll::Pending,
                _ => {
                    self.failed = true;
                    break Poll::Ready(Some(Err(Error::Loader(format!(
                        "the worker threads stopped before batch {} of epoch {}",
                        sh.plan[self.next_pos].0, sh.epoch
                    )))));
                }
            }
        };
        Counters::add_ns(&sh.counters.wait_ns, start);
        out
    }
}

impl Iterator for Epoch<'_> {
    type Item = Result<LoaderBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_until(None) {
            Poll::Ready(r) => r,
            // No deadline: `recv` returns a batch or a disconnect, never a timeout.
            Poll::Pending => None,
        }
    }
}

impl Drop for Epoch<'_> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake decoders waiting for room; take the lock so none misses it.
        drop(self.shared.sched.lock());
        self.shared.cv.notify_all();
        // Augment workers see the closed channel (or `stop`) and return.
        self.rx = None;
        self.pending.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Claims items in order while fewer than `prefetch` batches are in flight;
/// decodes them; the thread completing a batch sends it on.
fn decode_loop(sh: &Shared, tx: &Sender<Decoded>) {
    loop {
        let (pos, i, path, ds) = {
            let Ok(mut s) = sh.sched.lock() else { return };
            loop {
                if sh.stop.load(Ordering::SeqCst) || s.next.0 >= sh.plan.len() {
                    return;
                }
                if s.next.0 < s.taken + sh.prefetch {
                    break;
                }
                s = match sh.cv.wait(s) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
            let (pos, i) = s.next;
            let items = &sh.plan[pos].1;
            if i == 0 {
                s.assembling
                    .insert(pos, ((0..items.len()).map(|_| None).collect(), items.len()));
            }
            s.next = if i + 1 == items.len() {
                (pos + 1, 0)
            } else {
                (pos, i + 1)
            };
            let path = sh.dataset.paths[items[i]].clone();
            (pos, i, path, items[i])
        };
        let t = Instant::now();
        let item = match catch_unwind(AssertUnwindSafe(|| {
            decode_item(
                sh.region.as_deref(),
                sh.seed,
                sh.epoch,
                sh.exif_orientation,
                &path,
                ds,
            )
        })) {
            Ok(Ok(img)) => Ok(img),
            Ok(Err(Error::Decode { reason, .. })) => Err((path, reason)),
            Ok(Err(e)) => Err((path, e.to_string())),
            Err(_) => Err((path, "the decoder panicked".into())),
        };
        Counters::add_ns(&sh.counters.decode_ns, t);
        let c = &sh.counters;
        match &item {
            Ok((_, win)) => {
                c.decoded.fetch_add(1, Ordering::Relaxed);
                if win.is_some() {
                    c.region_decoded.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(f) => {
                c.skipped.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut v) = c.skipped_files.lock() {
                    v.push(f.clone());
                }
            }
        }
        let complete = {
            let Ok(mut s) = sh.sched.lock() else { return };
            let Some((slots, left)) = s.assembling.get_mut(&pos) else {
                return;
            };
            slots[i] = Some(item);
            *left -= 1;
            if *left == 0 {
                s.assembling.remove(&pos)
            } else {
                None
            }
        };
        if let Some((slots, _)) = complete {
            let items = slots.into_iter().flatten().collect();
            if tx.send(Decoded { pos, items }).is_err() {
                return;
            }
        }
    }
}

/// Reads and decodes dataset item `ds` (file `path`) for `epoch`: with
/// `region` (the planner), only the box its samples read when that is known
/// from the header (`Augmenter::read_box`, keyed as the item's batch will
/// draw it), else the whole image.
pub(super) fn decode_item(
    region: Option<&Augmenter>,
    seed: u64,
    epoch: u64,
    exif_orientation: bool,
    path: &Path,
    ds: usize,
) -> Result<(RgbImage, Option<SourceWindow>)> {
    load_image_region(path, exif_orientation, |w, h| {
        region.and_then(|a| a.read_box(seed, epoch, ds as u64, w, h))
    })
}

fn augment_loop(
    sh: &Shared,
    rx: &Mutex<Receiver<Decoded>>,
    tx: &Sender<Done>,
    aug: &Augmenter,
    pool: Option<&rayon::ThreadPool>,
) {
    loop {
        let msg = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(d) = msg else { return };
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let pos = d.pos;
        let t = Instant::now();
        let run = || augment_batch(sh, aug, d);
        let r = match catch_unwind(AssertUnwindSafe(|| match pool {
            Some(p) => p.install(run),
            None => run(),
        })) {
            Ok(r) => r,
            Err(_) => Err(Error::Loader(format!(
                "an augment worker panicked on batch {} of epoch {}",
                sh.plan[pos].0, sh.epoch
            ))),
        };
        Counters::add_ns(&sh.counters.augment_ns, t);
        if let Ok(Some(b)) = &r {
            if let Some(g) = &b.batch.gpu_stats {
                let c = &sh.counters;
                c.gpu_pack_ns.fetch_add(g.pack_ns, Ordering::Relaxed);
                c.gpu_device_ns.fetch_add(g.device_ns, Ordering::Relaxed);
                c.gpu_readback_ns
                    .fetch_add(g.readback_ns, Ordering::Relaxed);
            }
        }
        if tx.send((pos, r)).is_err() {
            return;
        }
    }
}

fn augment_batch(sh: &Shared, aug: &Augmenter, d: Decoded) -> Result<Option<LoaderBatch>> {
    let (index, plan_items) = &sh.plan[d.pos];
    let mut images = Vec::with_capacity(d.items.len());
    let mut windows = Vec::with_capacity(d.items.len());
    let mut items = Vec::with_capacity(d.items.len());
    let mut skipped = Vec::new();
    for (item, &ds) in d.items.into_iter().zip(plan_items) {
        match item {
            Ok((img, win)) => {
                images.push(img);
                windows.push(win);
                items.push(ds);
            }
            Err(f) => skipped.push(f),
        }
    }
    // Targets: each item's masks read here; one that cannot be read makes
    // its item a skipped file.
    let mut targets: Option<Vec<crate::targets::Targets>> = None;
    if let Some(dt) = &sh.dataset.targets {
        let mut ts = Vec::with_capacity(items.len());
        let mut keep = Vec::with_capacity(items.len());
        for &ds in &items {
            let it = &dt.0[ds];
            let masks: Result<Vec<_>> = it
                .masks
                .iter()
                .map(|p| crate::targets::io::load_mask(p))
                .collect();
            match masks {
                Ok(masks) => {
                    ts.push(crate::targets::Targets {
                        masks,
                        boxes: it.boxes.clone(),
                        keypoints: it.keypoints.clone(),
                    });
                    keep.push(true);
                }
                Err(e) => {
                    let f = (sh.dataset.paths[ds].clone(), format!("its mask: {e}"));
                    sh.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut v) = sh.counters.skipped_files.lock() {
                        v.push(f.clone());
                    }
                    skipped.push(f);
                    keep.push(false);
                }
            }
        }
        let mut k = keep.iter();
        images.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        items.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        windows.retain(|_| *k.next().unwrap_or(&true));
        targets = Some(ts);
    }
    // A file the engine refuses (an image it cannot work on, an op whose
    // drawn geometry does not apply, targets that do not fit it) is
    // reported like a decode failure and the batch runs again without it.
    let batch = loop {
        if images.is_empty() {
            return Ok(None);
        }
        let indices: Vec<u64> = items.iter().map(|&i| i as u64).collect();
        let classes: Option<Vec<u32>> = sh
            .dataset
            .labels
            .as_ref()
            .map(|l| items.iter().map(|&i| l[i]).collect());
        let labels = classes.as_ref().map(|c| Labels::Classes {
            classes: c,
            num_classes: sh.num_classes,
        });
        let mut request = Request::new(&images)
            .seed(sh.seed)
            .epoch(sh.epoch)
            .indices(&indices);
        if let Some(l) = labels {
            request = request.labels(l);
        }
        if windows.iter().any(Option::is_some) {
            request = request.source_windows(&windows);
        }
        let overrides = match &sh.overrides {
            Some(f) => Some(f(sh.epoch, &items)?),
            None => None,
        };
        if let Some(o) = &overrides {
            request = request.overrides(o);
        }
        if let (Some(t), Some(dt)) = (&targets, &sh.dataset.targets) {
            request = request.targets(t).target_options(&dt.1);
        }
        match aug.augment(request) {
            Ok(b) => break b,
            Err(
                e @ (Error::InvalidImage { index, .. }
                | Error::OpFailed { index, .. }
                | Error::InvalidTarget { index, .. }),
            ) if index < images.len() => {
                let path = sh.dataset.paths[items[index]].clone();
                let f = (path, e.to_string());
                sh.counters.skipped.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut v) = sh.counters.skipped_files.lock() {
                    v.push(f.clone());
                }
                skipped.push(f);
                images.remove(index);
                windows.remove(index);
                items.remove(index);
                if let Some(t) = targets.as_mut() {
                    t.remove(index);
                }
            }
            Err(e) => return Err(e),
        }
    };
    Ok(Some(LoaderBatch {
        epoch: sh.epoch,
        index: *index,
        items,
        batch,
        skipped,
    }))
}
