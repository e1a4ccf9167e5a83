//! Zero heap allocations per call: a counting global allocator (wrapping `System`) counts the
//! allocations the measuring thread makes while a closure runs.
//! - `classify`: the first call on a thread allocates its workspace; every later call allocates nothing.
//! - `classify_with` with a workspace made beforehand allocates nothing, from the first call on.

mod common;

use std::sync::Mutex;

use counting::allocations;

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// One measurement at a time (the counter is shared by the tests of this file).
static SERIAL: Mutex<()> = Mutex::new(());

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
