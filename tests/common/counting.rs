//! The counting global allocator the allocation tests share (`System`, counting): each test binary
//! that needs it says
//! `#[path = "common/counting.rs"] mod counting;` and
//! `#[global_allocator] static ALLOCATOR: counting::Counting = counting::Counting;`.
//!
//! It counts allocations (alloc, alloc_zeroed, realloc) process-wide ([`total`]) and per thread
//! ([`on_this_thread`]), and tracks each thread's live and peak bytes ([`peak_during`]). The
//! bookkeeping is atomics and const-initialized thread locals: it never allocates or unwinds.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The allocator (see the module docs).
pub struct Counting;

static TOTAL: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(grow: usize, shrink: usize) {
    TOTAL.fetch_add(1, Ordering::SeqCst);
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    let _ = LIVE.try_with(|l| {
        let v = (l.get() + grow).saturating_sub(shrink);
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every method forwards to `System` unchanged; the bookkeeping neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        // SAFETY: the caller's contract, passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size, layout.size());
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations by every thread of the process so far.
pub fn total() -> usize {
    TOTAL.load(Ordering::SeqCst)
}

/// Allocations by the calling thread so far.
pub fn on_this_thread() -> usize {
    COUNT.with(Cell::get)
}

/// Runs `f` and returns its result with the number of allocations this thread made meanwhile.
pub fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = on_this_thread();
    let r = std::hint::black_box(f());
    (r, on_this_thread() - before)
}

/// Runs `f` and returns its result with the most bytes this thread held meanwhile beyond what it
/// held before.
pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    (r, PEAK.with(Cell::get) - base)
}
