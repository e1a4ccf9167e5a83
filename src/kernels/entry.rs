//! Kernel entry points generated from one description per kernel.
//!
//! The windowed kernels (`conv_u8`, `dwconv`, `max_pool`) take every shape as a const generic, a
//! dozen of them (input size, channels, output size, kernel, stride, padding), so that each call
//! site is a shape-specialized instance. Written by hand, that list stood in every function of
//! such a kernel, and the serial and parallel entry points were the same thin wrappers, once per
//! kernel. Here:
//!
//! - [`shape_fns!`] writes a kernel's list of shape parameters once and gives it, as
//!   `<const P: usize, ...>` in that order, to each function that follows;
//! - [`row_entries!`] takes the same list and a kernel's row-range core (`conv_u8_rows`,
//!   `dwconv_band`: `#[inline(never)]`, one instance that every path shares) and adds the serial
//!   entry point (`#[inline(always)]`, the core on all output rows) and the parallel one (`_par`,
//!   the output rows cut evenly over a [`Team`](super::par::Team) by
//!   [`run_split`](super::par::run_split) and [`even_cut`](super::par::even_cut); every part
//!   computes exactly the serial values of its rows, so the results are bit-identical).
//!
//! The generated functions keep the names, signatures, order of generic parameters and `#[inline]`
//! attributes that `pplcnet-codegen` (`emit/lower.rs`, `emit/chains.rs`) emits calls to. A shape
//! trait with associated constants cannot stand in for the list on stable Rust: the constants size
//! arrays and are passed on as const generic arguments, which needs `generic_const_exprs`.

/// Defines functions that share one list of const generic shape parameters:
///
/// ```text
/// shape_fns! {
///     [IH, IW, C, OH, OW]
///     /// Docs and other attributes as usual.
///     pub fn kernel(src: &[f32], dst: &mut [f32]) { /* IH, IW, ... are in scope */ }
///     fn helper(x: usize) -> usize { x * IW }
/// }
/// ```
///
/// gives each function the generics `<const IH: usize, const IW: usize, ...>`, in that order.
macro_rules! shape_fns {
    ($shape:tt) => {};
    (
        [$($p:ident),+ $(,)?]
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($args:tt)*) $(-> $ret:ty)? $body:block
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        $vis fn $name<$(const $p: usize),+>($($args)*) $(-> $ret)? $body

        $crate::kernels::entry::shape_fns! { [$($p),+] $($rest)* }
    };
}
pub(crate) use shape_fns;

/// Defines a row-wise kernel from its shape parameters and its row-range core:
///
/// ```text
/// row_entries! {
///     shape: [IH, IW, C, OH, OW, KH, KW];
///     // The entry points' arguments before `act` (then `act` and `dst`), and a check they make
///     // first (may be left out).
///     args: (src: &[f32], w: &[f32]);
///     check: { assert!(src.len() == IH * IW * C); };
///     // How they call the core: these arguments, then `act`, the output rows and `dst`.
///     core: kernel_rows(src, 0, w);
///     // `OH` output rows of `OW * C` values each.
///     rows: OH of OW * C;
///     /// Docs of the serial entry point.
///     serial: kernel;
///     /// Docs of the parallel one.
///     parallel: kernel_par;
///     /// The core, defined as with [`shape_fns!`] (it and any further functions get the shape).
///     #[inline(never)]
///     pub fn kernel_rows(src: &[f32], row0: usize, w: &[f32], act: impl Activation,
///         rows: Range<usize>, dst: &mut [f32]) { ... }
/// }
/// ```
///
/// which adds
///
/// ```text
/// #[inline(always)]
/// pub fn kernel<const IH: usize, ...>(src: &[f32], w: &[f32], act: impl Activation, dst: &mut [f32]) {
///     { assert!(src.len() == IH * IW * C); }
///     kernel_rows::<IH, ...>(src, 0, w, act, 0..OH, dst)
/// }
///
/// pub fn kernel_par<const IH: usize, ...>(team: &dyn Team, src: &[f32], w: &[f32],
///     act: impl Activation + Sync, dst: &mut [f32]) {
///     { assert!(src.len() == IH * IW * C); }
///     let f = |r: Range<usize>, d: &mut [f32]| kernel_rows::<IH, ...>(src, 0, w, act, r, d);
///     run_split(team, dst, OH, OW * C, |i, n| even_cut(OH, i, n), &f);
/// }
/// ```
macro_rules! row_entries {
    (
        shape: [$($p:ident),+ $(,)?];
        args: ($($arg:ident: $ty:ty),* $(,)?);
        $(check: $check:block;)?
        core: $core:ident($($carg:expr),* $(,)?);
        rows: $rows:ident of $row_len:expr;
        $(#[$sattr:meta])*
        serial: $serial:ident;
        $(#[$pattr:meta])*
        parallel: $par:ident;
        $($fns:tt)*
    ) => {
        $(#[$sattr])*
        #[allow(clippy::too_many_arguments)]
        #[inline(always)]
        pub fn $serial<$(const $p: usize),+>(
            $($arg: $ty,)*
            act: impl $crate::kernels::Activation,
            dst: &mut [f32],
        ) {
            $($check)?
            $core::<$($p),+>($($carg,)* act, 0..$rows, dst)
        }

        $(#[$pattr])*
        #[allow(clippy::too_many_arguments)]
        pub fn $par<$(const $p: usize),+>(
            team: &dyn $crate::kernels::par::Team,
            $($arg: $ty,)*
            act: impl $crate::kernels::Activation + Sync,
            dst: &mut [f32],
        ) {
            $($check)?
            let f = |r: ::core::ops::Range<usize>, d: &mut [f32]| {
                $core::<$($p),+>($($carg,)* act, r, d)
            };
            $crate::kernels::par::run_split(
                team,
                dst,
                $rows,
                $row_len,
                |i, n| $crate::kernels::par::even_cut($rows, i, n),
                &f,
            );
        }

        $crate::kernels::entry::shape_fns! { [$($p),+] $($fns)* }
    };
}
pub(crate) use row_entries;
