//! Multi-threaded inference: [`Parallel`], a pool of persistent worker threads that runs every heavy
//! layer of the model in parts, one per thread.
//!
//! The code generator cuts each pointwise conv by rows of pixels (or, for the one-pixel fully
//! connected layers, by 32-wide weight panels), each depthwise conv and the stem by output rows, and
//! squeeze-excite into its mean (by channels), its two fully connected layers (by panels) and its
//! scaling (by pixels); every part writes a disjoint slice of the layer's output and computes each
//! value exactly as [`crate::classify_with`] does, so the results are bit-identical to the serial
//! path. The pooling and softmax layers run on the calling thread.
//!
//! Handing a layer to the workers allocates nothing and makes no system call while they are awake:
//! the caller publishes a pointer to a task on its own stack in each worker's slot (one atomic
//! store), runs its own part, takes back the tasks no worker has claimed yet (a worker descheduled
//! on a busy machine does not stall the layer: the caller runs its part), and waits for the claimed
//! ones to finish. Idle workers spin, then yield, then park after [`IDLE_BEFORE_PARK`] without work
//! (the next call wakes them).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::kernels::par::{Part, Team, MAX_PARTS};
use crate::{model, Workspace, INPUT_LEN, NUM_CLASSES};

/// The most threads a [`Parallel`] uses (larger requests are clamped; the layers of this model are
/// too small to gain from more).
pub const MAX_THREADS: usize = MAX_PARTS;

/// How long an idle worker keeps polling for work (spinning, then yielding its core) before it
/// parks. Within one inference, and between back-to-back inferences, workers never park.
pub const IDLE_BEFORE_PARK: Duration = Duration::from_millis(2);

/// `pause` iterations before an idle thread starts yielding its core (tens of microseconds).
const SPINS: u32 = 2000;

/// A pool of `threads - 1` worker threads (the calling thread is the last one) that runs one image
/// at a time with every heavy layer split across all of them.
///
/// ```no_run
/// let pool = pplcnet::Parallel::new(2);
/// let mut ws = pplcnet::Workspace::new_boxed();
/// let img = [0u8; pplcnet::INPUT_LEN];
/// let out = pool.classify(&img, &mut ws); // bit-identical to pplcnet::classify_with(&img, &mut ws)
/// # let _ = out;
/// ```
///
/// Running a model allocates nothing. The pool is `Send + Sync`: calls from several threads at once
/// are serialized (each holds the pool for one whole inference). Dropping it stops and joins the
/// workers. A panic in a worker is caught there and re-raised on the calling thread.
pub struct Parallel {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Held for a whole inference, so the workers serve one caller at a time.
    busy: Mutex<()>,
}

/// What the caller and the workers share.
struct Shared {
    /// One per worker.
    slots: Vec<Slot>,
    /// Set once, when the pool is dropped.
    stop: AtomicBool,
}

/// A worker's mailbox, alone on its cache lines: the caller stores a task; the worker claims it
/// (or the caller takes it back) and clears it when done.
#[repr(align(128))]
struct Slot {
    task: AtomicPtr<Task<'static, 'static>>,
    /// The worker is (about to be) parked: the caller must unpark it after posting.
    sleeping: AtomicBool,
    /// The last task panicked (written before the task is cleared).
    panicked: AtomicBool,
}

/// One worker's share of a layer: its part and the function to run on it. Lives on the stack of
/// [`Parallel::run`].
struct Task<'s, 'p> {
    part: &'s mut Part<'p>,
    f: &'s (dyn Fn(&mut Part<'_>) + Sync),
}

const _: () = {
    // A task is moved to a worker thread by pointer: everything it borrows must be `Send`.
    const fn assert_send<T: Send>() {}
    assert_send::<Task<'static, 'static>>();
};

impl Parallel {
    /// Starts a pool of `threads` threads in all: `threads - 1` workers plus the caller
    /// (`threads` is clamped to `1..=MAX_THREADS`; with 1 there are no workers).
    ///
    /// # Panics
    /// If the operating system cannot create a thread.
    pub fn new(threads: usize) -> Self {
        let threads = threads.clamp(1, MAX_THREADS);
        let slots = (1..threads)
            .map(|_| Slot {
                task: AtomicPtr::new(ptr::null_mut()),
                sleeping: AtomicBool::new(false),
                panicked: AtomicBool::new(false),
            })
            .collect();
        let shared = Arc::new(Shared {
            slots,
            stop: AtomicBool::new(false),
        });
        let workers = (0..threads - 1)
            .map(|i| {
                let shared = Arc::clone(&shared);
                thread::Builder::new()
                    .name(format!("pplcnet-{}", i + 1))
                    .spawn(move || work(&shared, i))
                    .expect("failed to spawn a pplcnet worker thread")
            })
            .collect();
        Parallel {
            shared,
            workers,
            busy: Mutex::new(()),
        }
    }

    /// Threads in all (workers plus the calling thread).
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs the model on one image like [`crate::classify_with`], with the heavy layers split across
    /// the pool's threads. The result is bit-identical to [`crate::classify_with`]'s. Allocates nothing.
    pub fn classify(&self, input: &[u8; INPUT_LEN], ws: &mut Workspace) -> [f32; NUM_CLASSES] {
        self.classify_with_hook(input, ws, |_| {})
    }

    /// [`Parallel::classify`], calling `after_layer(i)` after the `i`-th entry of
    /// [`crate::MODEL`]`.layers` ran (on all threads). `after_layer` must not use this pool.
    pub fn classify_with_hook(
        &self,
        input: &[u8; INPUT_LEN],
        ws: &mut Workspace,
        after_layer: impl FnMut(usize),
    ) -> [f32; NUM_CLASSES] {
        self.with_team(|team| model::classify_parallel_with_hook(input, ws, team, after_layer))
    }

    /// Calls `f` with the pool as a [`Team`] (held for the duration: other callers wait), for
    /// running the parallel entry point of any model compiled by `pplcnet-codegen`, e.g.
    /// `pool.with_team(|team| my_model::classify_parallel_with(&img, &mut ws, team))`.
    pub fn with_team<R>(&self, f: impl FnOnce(&dyn Team) -> R) -> R {
        // A panic in an earlier call poisons the lock; the pool is consistent anyway (every job
        // was waited for).
        let busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        f(&Session {
            pool: self,
            _busy: busy,
        })
    }

    /// Hands one empty layer to every worker and waits for all of them: the fixed cost a split
    /// layer pays on top of its work (for benchmarks).
    #[doc(hidden)]
    pub fn empty_layer(&self) {
        let units = self.threads();
        self.with_team(|team| {
            crate::kernels::par::run_split(team, &mut [], units, 0, |i, _| i, &|_, _| {})
        });
    }

    /// Runs `f` on every part, part 0 on the calling thread and part `i` on worker `i - 1`, and
    /// returns once all have finished. Callers hold `busy`.
    fn run(&self, parts: &mut [Part<'_>], f: &(dyn Fn(&mut Part<'_>) + Sync)) {
        let Some((mine, others)) = parts.split_first_mut() else {
            return;
        };
        assert!(
            others.len() < self.threads(),
            "{} parts for {} threads",
            others.len() + 1,
            self.threads()
        );
        let slots = &self.shared.slots[..others.len()];
        for slot in slots {
            slot.panicked.store(false, Ordering::Relaxed);
        }
        let mut others = others.iter_mut();
        let mut tasks: [Option<Task<'_, '_>>; MAX_PARTS - 1] =
            core::array::from_fn(|_| others.next().map(|part| Task { part, f }));
        // Declared after `tasks`, so dropped before them: on return and on unwinding alike, nothing
        // a worker can reach goes away until every posted task is finished.
        let join = Join { slots };
        for ((slot, worker), task) in slots
            .iter()
            .zip(&self.workers)
            .zip(tasks.iter_mut().flatten())
        {
            slot.post(task, worker.thread());
        }
        f(mine);
        // Parts whose worker has not started them yet (descheduled on a busy machine, or still
        // waking up) are taken back and run here, instead of waiting for that thread.
        for (slot, task) in slots.iter().zip(tasks.iter_mut().flatten()) {
            if slot.take_back() {
                (task.f)(task.part);
            }
        }
        drop(join);
        let mut panicked = false;
        for slot in slots {
            panicked |= slot.panicked.swap(false, Ordering::Relaxed);
        }
        if panicked {
            panic!("a pplcnet worker thread panicked");
        }
    }
}

impl core::fmt::Debug for Parallel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Parallel")
            .field("threads", &self.threads())
            .finish()
    }
}

impl Drop for Parallel {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for worker in &self.workers {
            worker.thread().unpark();
        }
        for worker in self.workers.drain(..) {
            // Tasks cannot panic out of a worker (they are caught), so this is always Ok.
            let _ = worker.join();
        }
    }
}

/// The pool while one inference holds it: what the generated code runs layers on.
struct Session<'a> {
    pool: &'a Parallel,
    _busy: MutexGuard<'a, ()>,
}

impl Team for Session<'_> {
    fn parts(&self) -> usize {
        self.pool.threads()
    }

    fn run(&self, parts: &mut [Part<'_>], f: &(dyn Fn(&mut Part<'_>) + Sync)) {
        self.pool.run(parts, f)
    }
}

impl Slot {
    /// Hands `task` to this slot's worker (`thread`), waking it if it parked.
    fn post(&self, task: &mut Task<'_, '_>, thread: &Thread) {
        let task: *mut Task<'_, '_> = task;
        // SeqCst store, then SeqCst load of `sleeping`; the worker does the mirror image before it
        // parks, so at least one of the two sees the other (no lost wake-up).
        self.task.store(task.cast(), Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            thread.unpark();
        }
    }

    /// Takes back the posted task if the worker has not claimed it yet (then it never will).
    fn take_back(&self) -> bool {
        let task = self.task.load(Ordering::Relaxed);
        !task.is_null()
            && task != claimed()
            && self
                .task
                .compare_exchange(task, ptr::null_mut(), Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }
}

/// What a worker leaves in its slot while it runs the task it claimed (never a task's address).
fn claimed() -> *mut Task<'static, 'static> {
    ptr::NonNull::dangling().as_ptr()
}

/// Waits, when dropped, until the workers of `slots` have finished the tasks they claimed (and
/// withdraws those they have not).
struct Join<'a> {
    slots: &'a [Slot],
}

impl Drop for Join<'_> {
    fn drop(&mut self) {
        for slot in self.slots {
            // Unwinding: a task not yet claimed is simply withdrawn.
            slot.take_back();
            let mut backoff = Backoff::default();
            while !slot.task.load(Ordering::Acquire).is_null() {
                backoff.snooze();
            }
        }
    }
}

/// A worker thread: runs the tasks posted to `shared.slots[index]` until the pool is dropped.
fn work(shared: &Shared, index: usize) {
    let slot = &shared.slots[index];
    let mut idle = Backoff::default();
    loop {
        let task = slot.task.load(Ordering::Relaxed);
        if !task.is_null() && task != claimed() {
            // Claim it: from here on the caller can no longer take it back. Acquire pairs with the
            // caller's SeqCst store that posted it, so the task's contents are visible.
            if slot
                .task
                .compare_exchange(task, claimed(), Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: `task` was posted by `Parallel::run` and points to a `Task` in that call's
            // stack frame, which borrows the part and the function for as long as the call lasts.
            // This worker claimed it (the compare-exchange above), so the caller will neither run
            // it nor touch it, and the call neither returns nor unwinds past those borrows until it
            // has seen this slot cleared (the `Join` guard is dropped before the tasks, on every
            // path); the slot is cleared below only after the last use of `task`. So the `&mut` is
            // exclusive and valid. The `'static` lifetimes exist only in the pointer's type: nothing
            // borrowed escapes this block. `Task` is `Send` (asserted above).
            let task = unsafe { &mut *task };
            if catch_unwind(AssertUnwindSafe(|| (task.f)(task.part))).is_err() {
                slot.panicked.store(true, Ordering::Relaxed);
            }
            // Release: the part's results (and `panicked`) are visible to the caller once it sees null.
            slot.task.store(ptr::null_mut(), Ordering::Release);
            idle = Backoff::default();
            continue;
        }
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        if !idle.snooze() {
            slot.sleeping.store(true, Ordering::SeqCst);
            if slot.task.load(Ordering::SeqCst).is_null() && !shared.stop.load(Ordering::SeqCst) {
                // A wake-up sent before this point is kept by `park`'s token; spurious returns
                // just loop.
                thread::park();
            }
            slot.sleeping.store(false, Ordering::SeqCst);
            idle = Backoff::default();
        }
    }
}

/// Spin, then yield the core (so an oversubscribed machine still makes progress).
#[derive(Default)]
struct Backoff {
    spins: u32,
    since: Option<Instant>,
}

impl Backoff {
    /// Waits a moment. Returns false once it has been waiting for [`IDLE_BEFORE_PARK`].
    fn snooze(&mut self) -> bool {
        if self.spins < SPINS {
            self.spins += 1;
            std::hint::spin_loop();
            return true;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        thread::yield_now();
        since.elapsed() < IDLE_BEFORE_PARK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Runs `f(part index)` on one part per thread of `pool`, the way a layer does.
    fn run_parts(pool: &Parallel, f: impl Fn(usize) + Sync) {
        let mut dst = vec![0.0f32; pool.threads()];
        let mut parts: Vec<Part<'_>> = dst
            .chunks_mut(1)
            .enumerate()
            .map(|(i, d)| Part {
                range: i..i + 1,
                dst: d,
            })
            .collect();
        let session = Session {
            pool,
            _busy: pool.busy.lock().unwrap_or_else(PoisonError::into_inner),
        };
        session.run(&mut parts, &|p: &mut Part<'_>| {
            f(p.range.start);
            p.dst[0] = 1.0;
        });
        drop(session);
        assert_eq!(dst, vec![1.0; pool.threads()], "every part ran");
    }

    #[test]
    fn every_part_runs_once_per_job() {
        for threads in 1..=4 {
            let pool = Parallel::new(threads);
            let hits: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
            for _ in 0..1000 {
                run_parts(&pool, |i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
            }
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 1000),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn a_worker_panic_reaches_the_caller_and_the_pool_survives() {
        let pool = Parallel::new(3);
        for _ in 0..50 {
            let r = catch_unwind(AssertUnwindSafe(|| {
                run_parts(&pool, |i| assert!(i != 2, "part 2 fails"))
            }));
            let msg = r.expect_err("the part's panic propagates");
            // Re-raised from the worker, or raised on the caller when it ran the part itself (it
            // takes back parts a worker has not started).
            let msg = msg
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| msg.downcast_ref::<String>().cloned());
            assert!(
                matches!(
                    msg.as_deref(),
                    Some("a pplcnet worker thread panicked" | "part 2 fails")
                ),
                "{msg:?}"
            );
            // Still usable, and no stale panic flag.
            run_parts(&pool, |_| {});
        }
    }

    #[test]
    fn a_caller_panic_waits_for_the_workers() {
        let pool = Parallel::new(2);
        let (started, finished) = (AtomicBool::new(false), AtomicBool::new(false));
        let r = catch_unwind(AssertUnwindSafe(|| {
            run_parts(&pool, |i| {
                if i == 0 {
                    // Give the worker time to claim its part, then fail.
                    thread::sleep(Duration::from_millis(10));
                    panic!("caller part fails");
                }
                started.store(true, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(50));
                finished.store(true, Ordering::SeqCst);
            })
        }));
        assert!(r.is_err());
        // The unwinding caller did not leave while the worker still used its stack.
        assert!(
            started.load(Ordering::SeqCst),
            "the worker claimed its part"
        );
        assert!(finished.load(Ordering::SeqCst));
        run_parts(&pool, |_| {});
    }

    #[test]
    fn parts_not_started_by_a_worker_run_on_the_caller() {
        let pool = Parallel::new(2);
        // Park the worker, then post: the caller finishes its part long before the worker wakes
        // (unless it is quick), and either way every part runs exactly once.
        thread::sleep(IDLE_BEFORE_PARK * 5);
        let count = AtomicUsize::new(0);
        run_parts(&pool, |_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn parked_workers_wake_up() {
        let pool = Parallel::new(2);
        run_parts(&pool, |_| {});
        thread::sleep(IDLE_BEFORE_PARK * 5);
        assert!(
            pool.shared.slots[0].sleeping.load(Ordering::SeqCst),
            "the idle worker parked"
        );
        run_parts(&pool, |_| {});
    }
}
