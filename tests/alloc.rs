//! Zero heap allocations per call: a counting global allocator (wrapping `System`) counts the
//! allocations the measuring thread makes while a closure runs.
//! - `classify`: the first call on a thread allocates its workspace; every later call allocates nothing.
//! - `classify_with` with a workspace made beforehand allocates nothing, from the first call on.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `System`, counting allocations (alloc, alloc_zeroed, realloc) of threads that asked for it.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted (const-initialized: reading it never allocates).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: every method forwards to `System` unchanged; `note` neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract, passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measurement at a time (the counter is shared by the tests of this file).
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the number of allocations this thread made meanwhile.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    COUNTED.set(true);
    let r = std::hint::black_box(f());
    COUNTED.set(false);
    (r, ALLOCATIONS.load(Ordering::SeqCst) - before)
}

const CALLS: usize = 25;

#[test]
fn the_counter_counts() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (v, n) = allocations(|| vec![1u8; 1000]);
    assert_eq!(v.len(), 1000);
    assert!(n >= 1, "a Vec allocation was not counted");
    let (b, n) = allocations(pplcnet::Workspace::new_boxed);
    drop(b);
    assert!(n >= 1, "the boxed workspace was not counted");
}

#[test]
fn classify_allocates_nothing_after_warm_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inputs = inputs();
    // A fresh thread: its first call makes the thread's workspace.
    std::thread::spawn(move || {
        let (first, warm_up) = allocations(|| pplcnet::classify(&inputs[0]));
        assert!(
            warm_up >= 1,
            "the first call should allocate the thread's workspace"
        );
        for i in 0..CALLS {
            let input = &inputs[i % inputs.len()];
            let (out, n) = allocations(|| pplcnet::classify(input));
            assert_eq!(n, 0, "call {} allocated {n} times", i + 1);
            if i % inputs.len() == 0 {
                assert_eq!(out, first, "same input, same output");
            }
        }
    })
    .join()
    .expect("measuring thread");
}

#[test]
fn classify_with_never_allocates() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inputs = inputs();
    let mut ws = pplcnet::Workspace::new_boxed();
    for i in 0..CALLS {
        let input = &inputs[i % inputs.len()];
        let (out, n) = allocations(|| pplcnet::classify_with(input, &mut ws));
        assert_eq!(n, 0, "call {} allocated {n} times", i + 1);
        assert!(out.iter().all(|v| v.is_finite()));
    }
}

fn inputs() -> Vec<Box<[u8; pplcnet::INPUT_LEN]>> {
    common::reference_inputs()
        .into_iter()
        .map(|(_, input)| input)
        .collect()
}
