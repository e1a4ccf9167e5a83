//! The compute pool: a fixed set of threads, each owning one `Workspace` made once, fed by a
//! bounded queue. A full queue refuses at once; a job whose client left or whose deadline passed
//! while it waited is skipped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use pplcnet::preprocess::{decode_image_limited, preprocess_into};
use pplcnet::{classify_with, Workspace, INPUT_LEN, NUM_CLASSES};
use tokio::sync::oneshot;

use crate::metrics::Metrics;
use crate::protocol::{ErrorKind, InferError};

/// The images of one request, already checked (see [`crate::protocol::images`]).
#[derive(Debug)]
pub enum Images {
    /// `n` raw inputs of `INPUT_LEN` bytes each, back to back.
    Raw {
        /// `n * INPUT_LEN` bytes.
        data: Bytes,
        /// How many.
        n: usize,
    },
    /// Encoded images (JPEG, PNG, ...), decoded and preprocessed like the CLI does.
    Encoded(Vec<Bytes>),
}

impl Images {
    /// How many images.
    pub fn len(&self) -> usize {
        match self {
            Images::Raw { n, .. } => *n,
            Images::Encoded(v) => v.len(),
        }
    }
}

/// The scores of every image of a job, `n * NUM_CLASSES` values, or why there are none.
pub type JobResult = Result<Vec<f32>, InferError>;

/// One request's work.
pub struct Job {
    /// What to classify.
    pub images: Images,
    /// When the answer is no longer wanted.
    pub deadline: Instant,
    /// Where the answer goes.
    pub reply: oneshot::Sender<JobResult>,
}

/// The worker threads and the sending side of their queue.
pub struct Pool {
    tx: Mutex<Option<SyncSender<Job>>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
    workers: usize,
}

impl Pool {
    /// Starts `workers` threads behind a queue of `queue_depth` jobs.
    pub fn new(
        workers: usize,
        queue_depth: usize,
        max_pixels: u64,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Pool> {
        let (tx, rx) = sync_channel::<Job>(queue_depth);
        let rx = Arc::new(Mutex::new(rx));
        metrics.queue_capacity.store(queue_depth as u64, Relaxed);
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (rx, metrics) = (Arc::clone(&rx), Arc::clone(&metrics));
            let h = std::thread::Builder::new()
                .name(format!("pplcnet-worker-{i}"))
                .spawn(move || worker(&rx, &metrics, max_pixels))?;
            handles.push(h);
        }
        Ok(Pool {
            tx: Mutex::new(Some(tx)),
            handles: Mutex::new(handles),
            metrics,
            workers,
        })
    }

    /// Queues a job, or refuses it at once when the queue is full or the pool is closed.
    pub fn submit(&self, job: Job) -> Result<(), InferError> {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else {
            return Err(InferError::new(
                ErrorKind::Unavailable,
                "the server is shutting down",
            ));
        };
        self.metrics.queue_depth.fetch_add(1, Relaxed);
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.metrics.queue_depth.fetch_sub(1, Relaxed);
                Err(match e {
                    TrySendError::Full(_) => {
                        self.metrics.queue_full.fetch_add(1, Relaxed);
                        InferError::new(
                            ErrorKind::Unavailable,
                            "the inference queue is full, try again later",
                        )
                    }
                    TrySendError::Disconnected(_) => {
                        InferError::new(ErrorKind::Internal, "no inference worker is running")
                    }
                })
            }
        }
    }

    /// Whether every worker is running.
    pub fn healthy(&self) -> bool {
        self.metrics.workers_alive.load(Relaxed) as usize == self.workers
    }

    /// Closes the queue; the workers finish the jobs in it, then exit. Waits for them.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let handles = std::mem::take(&mut *self.handles.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

/// Decrements `workers_alive` when a worker ends, however it ends.
struct Alive<'a>(&'a Metrics);

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.workers_alive.fetch_sub(1, Relaxed);
    }
}

fn worker(rx: &Mutex<Receiver<Job>>, metrics: &Metrics, max_pixels: u64) {
    metrics.workers_alive.fetch_add(1, Relaxed);
    let _alive = Alive(metrics);
    let mut ws = Workspace::new_boxed();
    let mut input = Box::new([0u8; INPUT_LEN]);
    let cfg = pplcnet::predict::model_preprocess_config();
    loop {
        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return, // queue closed and drained
        };
        metrics.queue_depth.fetch_sub(1, Relaxed);
        if job.reply.is_closed() || Instant::now() >= job.deadline {
            metrics.jobs_skipped.fetch_add(1, Relaxed);
            continue;
        }
        metrics.workers_busy.fetch_add(1, Relaxed);
        // Nothing below panics on user input; should a bug panic anyway, the worker survives
        // (its workspace is scratch memory, rewritten by every call).
        let result = catch_unwind(AssertUnwindSafe(|| {
            run(&job, &mut ws, &mut input, &cfg, max_pixels, metrics)
        }))
        .unwrap_or_else(|_| Err(InferError::new(ErrorKind::Internal, "inference failed")));
        metrics.workers_busy.fetch_sub(1, Relaxed);
        let _ = job.reply.send(result);
    }
}

fn run(
    job: &Job,
    ws: &mut Workspace,
    input: &mut [u8; INPUT_LEN],
    cfg: &pplcnet::preprocess::PreprocessConfig,
    max_pixels: u64,
    metrics: &Metrics,
) -> JobResult {
    let n = job.images.len();
    let mut scores = Vec::with_capacity(n * NUM_CLASSES);
    for i in 0..n {
        if i > 0 && (job.reply.is_closed() || Instant::now() >= job.deadline) {
            return Err(InferError::new(ErrorKind::Deadline, "deadline exceeded"));
        }
        let out = match &job.images {
            Images::Raw { data, .. } => {
                let chunk: &[u8; INPUT_LEN] =
                    data[i * INPUT_LEN..(i + 1) * INPUT_LEN]
                        .try_into()
                        .map_err(|_| InferError::new(ErrorKind::Internal, "input size"))?;
                classify_with(chunk, ws)
            }
            Images::Encoded(v) => {
                let img = decode_image_limited(&v[i], max_pixels)
                    .map_err(|e| InferError::bad(format!("image {i}: {e}")))?;
                preprocess_into(&img, cfg, &mut input[..])
                    .map_err(|e| InferError::bad(format!("image {i}: {e}")))?;
                classify_with(input, ws)
            }
        };
        scores.extend_from_slice(&out);
        metrics.images.fetch_add(1, Relaxed);
    }
    Ok(scores)
}
