//! `pplcnet::Parallel`: bit-identical to `classify_with` for every reference input and thread count,
//! no heap allocation per call once the pool exists, and a pool of one thread (no workers).

use std::sync::Mutex;

mod common;

use common::reference_inputs as inputs;
use pplcnet::{Parallel, Workspace, NUM_CLASSES};

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// The tests of this file run one at a time, so the allocation count sees only one of them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn assert_bit_identical(what: &str, got: &[f32; NUM_CLASSES], want: &[f32; NUM_CLASSES]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "{what}: output {i} differs: {g:e} vs {w:e}"
        );
    }
}

fn check_threads(threads: usize) {
    let pool = Parallel::new(threads);
    assert_eq!(pool.threads(), threads);
    let (mut ws, mut wp) = (Workspace::new_boxed(), Workspace::new_boxed());
    for (name, input) in inputs() {
        let want = pplcnet::classify_with(&input, &mut ws);
        // Twice: the second run starts from a workspace full of the first one's values.
        for round in 0..2 {
            let got = pool.classify(&input, &mut wp);
            assert_bit_identical(
                &format!("{name}, {threads} threads, run {round}"),
                &got,
                &want,
            );
        }
        let got = pplcnet::classify_parallel(&pool, &input, &mut wp);
        assert_bit_identical(&format!("{name}, {threads} threads, free fn"), &got, &want);
    }
}

#[test]
fn two_threads_bit_identical_to_serial() {
    let _one = serial();
    check_threads(2);
}

#[test]
fn three_threads_bit_identical_to_serial() {
    let _one = serial();
    check_threads(3);
}

#[test]
fn one_thread_has_no_workers_and_matches() {
    let _one = serial();
    check_threads(1);
    // Out-of-range requests are clamped.
    assert_eq!(Parallel::new(0).threads(), 1);
    assert_eq!(
        Parallel::new(usize::MAX).threads(),
        pplcnet::parallel::MAX_THREADS
    );
}

#[test]
fn serial_team_matches() {
    let _one = serial();
    let mut ws = Workspace::new_boxed();
    for (name, input) in inputs() {
        let want = pplcnet::classify_with(&input, &mut ws);
        let got = pplcnet::classify_parallel_with(&input, &mut ws, &pplcnet::kernels::par::Serial);
        assert_bit_identical(&format!("{name}, Serial team"), &got, &want);
    }
}

#[test]
fn repeated_calls_reuse_the_pool_without_allocating() {
    let _one = serial();
    let input = inputs().swap_remove(0).1;
    let mut ws = Workspace::new_boxed();
    let want = pplcnet::classify_with(&input, &mut ws);
    for threads in [2, 3] {
        let before = counting::total();
        let pool = Parallel::new(threads);
        assert!(
            counting::total() > before,
            "the counter sees the pool's own allocations"
        );
        // Warm-up: the first calls may touch lazily initialized runtime state.
        for _ in 0..3 {
            pool.classify(&input, &mut ws);
        }
        // A real per-call allocation shows in every window; a stray one from the test harness
        // (another thread starting) would not repeat.
        let mut counts = Vec::with_capacity(3);
        for _ in 0..3 {
            let before = counting::total();
            let mut last = [0.0; NUM_CLASSES];
            for _ in 0..20 {
                last = pool.classify(&input, &mut ws);
            }
            counts.push(counting::total() - before);
            assert_bit_identical(&format!("{threads} threads, repeated"), &last, &want);
            if counts.last() == Some(&0) {
                break;
            }
        }
        assert_eq!(
            counts.last(),
            Some(&0),
            "{threads} threads: allocations per 20 calls: {counts:?}"
        );
    }
}

#[test]
fn pool_is_send_and_sync_and_serializes_concurrent_callers() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Parallel>();
    let _one = serial();
    let input = inputs().swap_remove(0).1;
    let want = pplcnet::classify_with(&input, &mut Workspace::new_boxed());
    let pool = Parallel::new(2);
    std::thread::scope(|s| {
        for t in 0..3 {
            let (pool, input, want) = (&pool, &input, &want);
            s.spawn(move || {
                let mut ws = Workspace::new_boxed();
                for _ in 0..5 {
                    assert_bit_identical(
                        &format!("caller {t}"),
                        &pool.classify(input, &mut ws),
                        want,
                    );
                }
            });
        }
    });
}
