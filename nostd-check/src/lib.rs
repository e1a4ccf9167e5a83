//! A `#![no_std]` crate that uses `pplcnet` the way firmware or no-alloc server code would: with
//! `default-features = false`, a caller-provided workspace, [`pplcnet::top_k`] and
//! [`pplcnet::LABELS`]. It exists so that a regression (anything on the core path that needs `std`
//! or `alloc`) breaks the build.
//!
//! In a workspace build cargo unifies features, so `pplcnet` is compiled with `std` there and this
//! crate proves nothing by compiling. `tests/separate_build.rs` therefore builds it alone, into its
//! own target directory, as a `staticlib` with `-C panic=abort` and the `bare` feature, which fails
//! if the dependency graph contains
//! - `std`: std defines the `panic_impl` lang item, and so does [`panic`] below (error E0152,
//!   "found duplicate lang item `panic_impl`");
//! - `alloc` (without `std`): a staticlib that links `alloc` needs a `#[global_allocator]`, and
//!   there is none ("no global memory allocator found but one is required").
#![no_std]
#![forbid(unsafe_code)]

pub use pplcnet::{Workspace, INPUT_LEN, LABELS, NUM_CLASSES};

/// How many classes [`top5`] returns.
pub const K: usize = 5;

/// Runs the model on one 224x224 RGB (HWC) image with the caller's workspace and returns the five
/// best `(class id, score)` pairs, best first. Allocates nothing.
pub fn top5(image: &[u8; INPUT_LEN], ws: &mut Workspace) -> [(usize, f32); K] {
    let scores = pplcnet::classify_with(image, ws);
    pplcnet::top_k::<K>(&scores)
}

/// The full score vector (same as [`pplcnet::classify_with`]), for callers that want more than the top-5.
pub fn scores(image: &[u8; INPUT_LEN], ws: &mut Workspace) -> [f32; NUM_CLASSES] {
    pplcnet::classify_with(image, ws)
}

/// The label of the best class.
pub fn best_label(image: &[u8; INPUT_LEN], ws: &mut Workspace) -> &'static str {
    LABELS[top5(image, ws)[0].0]
}

/// Only in the separate `bare` build (see the crate docs): its collision with std's handler is the
/// proof that std is not linked.
#[cfg(feature = "bare")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
