//! C ABI for `pplcnet`: classify a 224x224 RGB image with a workspace the caller allocates, get the
//! class scores, look up labels. The header is `include/pplcnet.h` (hand-written; the constants and
//! signatures here must match it, and `tests/c_example.rs` compiles and runs a C program against it).
//!
//! Contract, shared by every function: pointers may be NULL and lengths may be wrong: both are
//! reported as error codes, never undefined behaviour. What cannot be checked is the caller's side
//! of the bargain: a non-NULL pointer must point to at least the number of bytes the caller says,
//! and a workspace must not be used by two threads at once. No function allocates or panics.
#![deny(unsafe_op_in_unsafe_fn)]

use core::ffi::{c_char, c_void, CStr};
use core::mem::{align_of, size_of};
use pplcnet::{Workspace, INPUT_LEN, LABELS, NUM_CLASSES};

/// Success.
pub const PPLCNET_OK: i32 = 0;
/// A required pointer was NULL.
pub const PPLCNET_ERR_NULL: i32 = -1;
/// `len` is not `pplcnet_input_len()`.
pub const PPLCNET_ERR_INPUT_LEN: i32 = -2;
/// `workspace_len` is smaller than `pplcnet_workspace_size()`.
pub const PPLCNET_ERR_WORKSPACE_LEN: i32 = -3;
/// The workspace is not aligned to `pplcnet_workspace_align()`.
pub const PPLCNET_ERR_WORKSPACE_ALIGN: i32 = -4;
/// `out_len` is smaller than `pplcnet_num_classes()`.
pub const PPLCNET_ERR_OUTPUT_LEN: i32 = -5;
/// The image bytes and the workspace overlap.
pub const PPLCNET_ERR_OVERLAP: i32 = -6;

/// Bytes a workspace needs (`pplcnet::Workspace`).
#[unsafe(no_mangle)]
pub extern "C" fn pplcnet_workspace_size() -> usize {
    size_of::<Workspace>()
}

/// Alignment a workspace needs, in bytes (a power of two).
#[unsafe(no_mangle)]
pub extern "C" fn pplcnet_workspace_align() -> usize {
    align_of::<Workspace>()
}

/// Number of scores `pplcnet_classify` writes.
#[unsafe(no_mangle)]
pub extern "C" fn pplcnet_num_classes() -> usize {
    NUM_CLASSES
}

/// Bytes of one input image: height x width x 3 (RGB, row-major, HWC).
#[unsafe(no_mangle)]
pub extern "C" fn pplcnet_input_len() -> usize {
    INPUT_LEN
}

/// Checks a workspace pointer and length; on success the workspace may be viewed as a `Workspace`.
fn check_workspace(workspace: *mut c_void, workspace_len: usize) -> i32 {
    if workspace.is_null() {
        PPLCNET_ERR_NULL
    } else if workspace_len < size_of::<Workspace>() {
        PPLCNET_ERR_WORKSPACE_LEN
    } else if (workspace as usize) % align_of::<Workspace>() != 0 {
        PPLCNET_ERR_WORKSPACE_ALIGN
    } else {
        PPLCNET_OK
    }
}

/// Zeroes a workspace. Memory from `malloc`/`aligned_alloc` has no defined contents; pass it through
/// this function (or `memset`) once before its first `pplcnet_classify`. Later calls may reuse it as is.
///
/// # Safety
/// A non-NULL `workspace` must be valid for writes of `workspace_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pplcnet_workspace_init(
    workspace: *mut c_void,
    workspace_len: usize,
) -> i32 {
    let status = check_workspace(workspace, workspace_len);
    if status != PPLCNET_OK {
        return status;
    }
    // SAFETY: non-NULL and aligned (checked above); the caller guarantees `workspace_len` writable
    // bytes, and we write `size_of::<Workspace>() <= workspace_len` of them.
    unsafe { core::ptr::write_bytes(workspace.cast::<u8>(), 0, size_of::<Workspace>()) };
    PPLCNET_OK
}

/// Runs the model on one image. `rgb`: `len == pplcnet_input_len()` bytes, 224x224 RGB, HWC, already
/// resized and cropped. `workspace`: at least `pplcnet_workspace_size()` bytes aligned to
/// `pplcnet_workspace_align()`, initialized once (`pplcnet_workspace_init`), used by one thread at a
/// time. `out`: room for `out_len >= pplcnet_num_classes()` floats; exactly `pplcnet_num_classes()`
/// are written, and only on success. Returns `PPLCNET_OK` or a negative `PPLCNET_ERR_*` code.
///
/// # Safety
/// Each non-NULL pointer must be valid for the number of bytes its length argument states (reads for
/// `rgb`, reads and writes for `workspace`, writes for `out`), and no other thread may use the
/// workspace during the call. Everything else (NULL, lengths, alignment, overlap of image and
/// workspace) is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pplcnet_classify(
    rgb: *const u8,
    len: usize,
    workspace: *mut c_void,
    workspace_len: usize,
    out: *mut f32,
    out_len: usize,
) -> i32 {
    if rgb.is_null() || workspace.is_null() || out.is_null() {
        return PPLCNET_ERR_NULL;
    }
    if len != INPUT_LEN {
        return PPLCNET_ERR_INPUT_LEN;
    }
    let status = check_workspace(workspace, workspace_len);
    if status != PPLCNET_OK {
        return status;
    }
    if out_len < NUM_CLASSES {
        return PPLCNET_ERR_OUTPUT_LEN;
    }
    let (img_at, ws_at) = (rgb as usize, workspace as usize);
    if img_at < ws_at.saturating_add(size_of::<Workspace>())
        && ws_at < img_at.saturating_add(INPUT_LEN)
    {
        // A shared and a mutable reference to the same bytes would be undefined behaviour.
        return PPLCNET_ERR_OVERLAP;
    }
    // SAFETY: `rgb` is non-NULL, `[u8; N]` has alignment 1, and the caller guarantees `len` readable
    // bytes, which we checked is exactly `INPUT_LEN`. Nothing writes them during the call: the only
    // memory written is the workspace, which does not overlap them (checked above).
    let image = unsafe { &*rgb.cast::<[u8; INPUT_LEN]>() };
    // SAFETY: non-NULL, aligned to `align_of::<Workspace>()`, at least `size_of::<Workspace>()` bytes
    // (all checked above), valid for reads and writes and not used elsewhere during the call (caller's
    // contract), disjoint from `image` (checked). `Workspace` is plain `f32`s, so any initialized bytes
    // are a valid value.
    let ws = unsafe { &mut *workspace.cast::<Workspace>() };
    let scores = pplcnet::classify_with(image, ws);
    // SAFETY: `out` is non-NULL and the caller guarantees room for `out_len >= NUM_CLASSES` floats.
    // Copied as bytes, so a misaligned `out` is not UB either; the source is our own stack array,
    // which cannot overlap the caller's buffer.
    unsafe {
        core::ptr::copy_nonoverlapping(
            scores.as_ptr().cast::<u8>(),
            out.cast::<u8>(),
            size_of::<[f32; NUM_CLASSES]>(),
        )
    };
    PPLCNET_OK
}

/// Total bytes of all labels, each followed by a NUL.
const LABEL_TEXT_LEN: usize = {
    let (mut n, mut i) = (0, 0);
    while i < NUM_CLASSES {
        n += LABELS[i].len() + 1;
        i += 1;
    }
    n
};

/// Every label followed by a NUL byte, built at compile time from `pplcnet::LABELS`.
static LABEL_TEXT: [u8; LABEL_TEXT_LEN] = {
    let mut text = [0u8; LABEL_TEXT_LEN];
    let (mut at, mut i) = (0, 0);
    while i < NUM_CLASSES {
        let bytes = LABELS[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            assert!(
                bytes[j] != 0,
                "a label contains a NUL byte and cannot be a C string"
            );
            text[at] = bytes[j];
            at += 1;
            j += 1;
        }
        at += 1; // the NUL, already there
        i += 1;
    }
    text
};

/// Where label `i` starts in [`LABEL_TEXT`].
static LABEL_START: [usize; NUM_CLASSES] = {
    let mut start = [0usize; NUM_CLASSES];
    let (mut at, mut i) = (0, 0);
    while i < NUM_CLASSES {
        start[i] = at;
        at += LABELS[i].len() + 1;
        i += 1;
    }
    start
};

/// The label of class `class_id` as a NUL-terminated UTF-8 string with static lifetime (do not free
/// it), or NULL if `class_id >= pplcnet_num_classes()`.
#[unsafe(no_mangle)]
pub extern "C" fn pplcnet_label(class_id: usize) -> *const c_char {
    match LABEL_START.get(class_id) {
        Some(&at) => LABEL_TEXT[at..].as_ptr().cast::<c_char>(),
        None => core::ptr::null(),
    }
}

/// A static NUL-terminated description of a status code (never NULL).
#[unsafe(no_mangle)]
pub extern "C" fn pplcnet_strerror(status: i32) -> *const c_char {
    let s: &'static CStr = match status {
        PPLCNET_OK => c"ok",
        PPLCNET_ERR_NULL => c"a required pointer is NULL",
        PPLCNET_ERR_INPUT_LEN => c"the image length is not pplcnet_input_len()",
        PPLCNET_ERR_WORKSPACE_LEN => c"the workspace is smaller than pplcnet_workspace_size()",
        PPLCNET_ERR_WORKSPACE_ALIGN => c"the workspace is not aligned to pplcnet_workspace_align()",
        PPLCNET_ERR_OUTPUT_LEN => {
            c"the output has room for fewer than pplcnet_num_classes() floats"
        }
        PPLCNET_ERR_OVERLAP => c"the image and the workspace overlap",
        _ => c"unknown status code",
    };
    s.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(seed: u8) -> Vec<u8> {
        (0..INPUT_LEN)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn call(
        rgb: *const u8,
        len: usize,
        ws: *mut c_void,
        ws_len: usize,
        out: *mut f32,
        out_len: usize,
    ) -> i32 {
        // SAFETY: every test passes either NULL or pointers valid for the stated lengths.
        unsafe { pplcnet_classify(rgb, len, ws, ws_len, out, out_len) }
    }

    #[test]
    fn classifies_like_the_rust_api() {
        let img = image(7);
        let mut ws = Workspace::new_boxed();
        let (wp, wl) = (
            (&mut *ws as *mut Workspace).cast::<c_void>(),
            pplcnet_workspace_size(),
        );
        let mut out = vec![f32::NAN; NUM_CLASSES + 3];
        assert_eq!(
            call(img.as_ptr(), img.len(), wp, wl, out.as_mut_ptr(), out.len()),
            PPLCNET_OK
        );
        let want = pplcnet::classify(img[..].try_into().unwrap());
        assert_eq!(&out[..NUM_CLASSES], &want[..], "bit-identical to classify");
        assert!(
            out[NUM_CLASSES..].iter().all(|v| v.is_nan()),
            "wrote past NUM_CLASSES"
        );
    }

    #[test]
    fn bad_arguments_are_error_codes_and_leave_out_alone() {
        let img = image(1);
        let mut ws = Workspace::new_boxed();
        let (wp, wl) = (
            (&mut *ws as *mut Workspace).cast::<c_void>(),
            pplcnet_workspace_size(),
        );
        let mut out = vec![-1.0f32; NUM_CLASSES];
        let (o, ol) = (out.as_mut_ptr(), out.len());
        let null = core::ptr::null_mut::<c_void>();
        assert_eq!(
            call(core::ptr::null(), INPUT_LEN, wp, wl, o, ol),
            PPLCNET_ERR_NULL
        );
        assert_eq!(
            call(img.as_ptr(), INPUT_LEN, null, wl, o, ol),
            PPLCNET_ERR_NULL
        );
        assert_eq!(
            call(img.as_ptr(), INPUT_LEN, wp, wl, core::ptr::null_mut(), ol),
            PPLCNET_ERR_NULL
        );
        assert_eq!(
            call(img.as_ptr(), INPUT_LEN - 1, wp, wl, o, ol),
            PPLCNET_ERR_INPUT_LEN
        );
        assert_eq!(call(img.as_ptr(), 0, wp, wl, o, ol), PPLCNET_ERR_INPUT_LEN);
        assert_eq!(
            call(img.as_ptr(), usize::MAX, wp, wl, o, ol),
            PPLCNET_ERR_INPUT_LEN
        );
        assert_eq!(
            call(img.as_ptr(), INPUT_LEN, wp, wl - 1, o, ol),
            PPLCNET_ERR_WORKSPACE_LEN
        );
        assert_eq!(
            call(img.as_ptr(), INPUT_LEN, wp, wl, o, ol - 1),
            PPLCNET_ERR_OUTPUT_LEN
        );
        let mut raw = Workspace::new_boxed();
        let (raw_p, raw_len) = (
            (&mut *raw as *mut Workspace).cast::<u8>(),
            pplcnet_workspace_size(),
        );
        // Image inside the workspace.
        assert_eq!(
            call(raw_p.cast_const(), INPUT_LEN, raw_p.cast(), raw_len, o, ol),
            PPLCNET_ERR_OVERLAP
        );
        assert!(out.iter().all(|&v| v == -1.0), "out written on error");
        // SAFETY: NULL is allowed; `ws` is a valid, aligned workspace of `wl` bytes.
        unsafe {
            assert_eq!(pplcnet_workspace_init(null, wl), PPLCNET_ERR_NULL);
            assert_eq!(pplcnet_workspace_init(wp, 1), PPLCNET_ERR_WORKSPACE_LEN);
            assert_eq!(pplcnet_workspace_init(wp, wl), PPLCNET_OK);
        }
    }

    #[test]
    fn misaligned_workspace_is_refused() {
        let mut buf = vec![0u8; pplcnet_workspace_size() + 2 * pplcnet_workspace_align()];
        let base = buf.as_mut_ptr();
        let mis = (0..pplcnet_workspace_align())
            .map(|k| base.wrapping_add(k))
            .find(|p| (*p as usize) % 64 == 4)
            .unwrap();
        let img = image(2);
        let mut out = vec![0f32; NUM_CLASSES];
        let len = pplcnet_workspace_size();
        assert_eq!(
            call(
                img.as_ptr(),
                INPUT_LEN,
                mis.cast(),
                len,
                out.as_mut_ptr(),
                out.len()
            ),
            PPLCNET_ERR_WORKSPACE_ALIGN
        );
        // SAFETY: `mis` has `len` writable bytes after it; the call refuses it before writing.
        assert_eq!(
            unsafe { pplcnet_workspace_init(mis.cast(), len) },
            PPLCNET_ERR_WORKSPACE_ALIGN
        );
    }

    #[test]
    fn labels_are_nul_terminated_copies() {
        for (i, want) in LABELS.iter().enumerate() {
            // SAFETY: a non-NULL result points into LABEL_TEXT, NUL-terminated by construction.
            let got = unsafe { CStr::from_ptr(pplcnet_label(i)) };
            assert_eq!(got.to_str().unwrap(), *want);
        }
        assert!(pplcnet_label(NUM_CLASSES).is_null());
        assert!(pplcnet_label(usize::MAX).is_null());
        for code in [0, -1, -2, -3, -4, -5, -6, 1, i32::MIN] {
            assert!(!pplcnet_strerror(code).is_null());
        }
    }
}
