//! The vector type the kernels use and slice load/store helpers. `f32x16` is one AVX-512 register when
//! the target has AVX-512F, two AVX registers otherwise (`wide` picks at compile time).

pub use wide::f32x16 as V;

/// Lanes in [`V`].
pub const L: usize = 16;

/// Loads the first 16 values of `s`.
#[inline(always)]
pub fn load(s: &[f32]) -> V {
    let a: [f32; L] = s[..L].try_into().expect("16 values");
    V::new(a)
}

/// Loads up to 16 values of `s`, zero-filling the rest.
#[inline(always)]
pub fn load_partial(s: &[f32]) -> V {
    V::from(&s[..s.len().min(L)])
}

/// Loads the first `n` (1..=16) values of `s`, zero-filling the rest. With `n` a constant after
/// inlining, the full case is one vector load.
#[inline(always)]
pub fn load_n(s: &[f32], n: usize) -> V {
    if n == L {
        load(s)
    } else {
        load_partial(&s[..n])
    }
}

/// [`load_n`] of `s[i..i + n]` without bounds checks, for inner loops whose indices the kernel
/// proved in range from its shape assertions.
///
/// # Safety
/// `i + n <= s.len()` and `1 <= n <= 16`.
#[inline(always)]
pub unsafe fn load_n_unchecked(s: &[f32], i: usize, n: usize) -> V {
    debug_assert!(i + n <= s.len() && (1..=L).contains(&n));
    if n == L {
        // SAFETY: the caller guarantees `s[i..i + 16]` is in bounds; unaligned reads are allowed.
        V::new(unsafe { core::ptr::read_unaligned(s.as_ptr().add(i).cast::<[f32; L]>()) })
    } else {
        // SAFETY: the caller guarantees `s[i..i + n]` is in bounds.
        load_partial(unsafe { s.get_unchecked(i..i + n) })
    }
}

/// Stores 16 values into the start of `d`.
#[inline(always)]
pub fn store(d: &mut [f32], v: V) {
    d[..L].copy_from_slice(v.as_array());
}

/// Stores the first `d.len()` (at most 16) lanes of `v` into `d`.
#[inline(always)]
pub fn store_partial(d: &mut [f32], v: V) {
    let n = d.len().min(L);
    d[..n].copy_from_slice(&v.as_array()[..n]);
}

/// Stores the first `n` (1..=16) lanes of `v` into the start of `d`.
#[inline(always)]
pub fn store_n(d: &mut [f32], v: V, n: usize) {
    if n == L {
        store(d, v)
    } else {
        store_partial(&mut d[..n], v)
    }
}

/// Calls `f(c0, n)` for every block of up to 16 channels of `0..c`: full blocks first, then the
/// tail (with `c` a constant, `n` is a constant in each of the two calls after inlining).
#[inline(always)]
pub fn for_blocks(c: usize, mut f: impl FnMut(usize, usize)) {
    let full = c / L * L;
    let mut c0 = 0;
    while c0 < full {
        f(c0, L);
        c0 += L;
    }
    if full < c {
        f(full, c - full);
    }
}
