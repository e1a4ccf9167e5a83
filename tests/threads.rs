//! Many threads calling `classify` at once, on different inputs: 2 x cores threads x 1000 calls each
//! get bit-identical results to a single-threaded run (each thread has its own workspace; nothing is
//! shared but the weights), and no thread allocates after its first call (no growth under load).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

mod common;

const ITERATIONS: usize = 1000;

/// `System`, counting each thread's allocations in a thread-local counter.
struct Counting;

thread_local! {
    /// Allocations made by this thread (const-initialized: reading it never allocates).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the counter may already be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
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

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn concurrent_classify_is_bit_identical_and_allocation_free() {
    let threads = 2 * std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let inputs = inputs();
    // Single-threaded reference, each input on a fresh workspace.
    let expected: Vec<Vec<u32>> = inputs
        .iter()
        .map(|x| {
            bits(&pplcnet::classify_with(
                x,
                &mut pplcnet::Workspace::new_boxed(),
            ))
        })
        .collect();
    // Distinct inputs give distinct outputs (so a mix-up between threads would show).
    for i in 1..expected.len() {
        assert_ne!(
            expected[i], expected[0],
            "inputs 0 and {i} give the same output"
        );
    }
    std::thread::scope(|s| {
        for t in 0..threads {
            let (inputs, expected) = (&inputs, &expected);
            s.spawn(move || {
                // The first call makes this thread's workspace; none after it may allocate.
                let _ = pplcnet::classify(&inputs[0]);
                let before = ALLOCATIONS.with(Cell::get);
                let mut mismatch = None;
                for k in 0..ITERATIONS {
                    // Every thread walks the inputs in its own order: at any moment threads run
                    // different ones.
                    let i = (t + k * (t + 1)) % inputs.len();
                    let got = pplcnet::classify(&inputs[i]);
                    let same = got.iter().zip(&expected[i]).all(|(g, e)| g.to_bits() == *e);
                    if !same && mismatch.is_none() {
                        mismatch = Some((k, i));
                    }
                }
                let after = ALLOCATIONS.with(Cell::get);
                assert_eq!(
                    mismatch, None,
                    "thread {t}: (iteration, input) differs from the single-threaded run"
                );
                assert_eq!(
                    after - before,
                    0,
                    "thread {t}: allocations during {ITERATIONS} calls"
                );
            });
        }
    });
}

fn inputs() -> Vec<Box<[u8; pplcnet::INPUT_LEN]>> {
    common::reference_inputs()
        .into_iter()
        .map(|(_, input)| input)
        .collect()
}
