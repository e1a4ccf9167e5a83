//! Intel AMX tiles, the way the bf16 pointwise kernel ([`super::pwconv_amx`]) uses them, behind one
//! trait with two implementations ("tile machines") that run the very same tile programs:
//!
//! - [`hw::Hw`] (x86_64): the real instructions (`ldtilecfg`, `tilezero`, `tileloadd`,
//!   `tdpbf16ps`, `tilestored`, `tilerelease`) through `asm!`, usable only after [`support`] found
//!   AMX and Linux granted the tile state to the process;
//! - [`emu::Emu`]: a scalar emulation of each instruction as Intel specifies it (bf16 pairs widened
//!   to f32, multiplied exactly, added one after the other in f32, denormal inputs and outputs
//!   flushed to zero), for tests on any CPU.
//!
//! Which runs is [`backend`]: the hardware where [`support`] is [`Support::Available`], elsewhere
//! no tile machine but the kernel's FMA fallback ([`Backend::Simd`], the same sums), or whatever [`set_backend`] forced (tests, benchmarks). A binary built
//! with AMX kernels therefore never executes a tile instruction on a CPU or OS that cannot run it.

pub mod emu;
#[cfg(target_arch = "x86_64")]
pub mod hw;

use core::sync::atomic::{AtomicI32, AtomicU8, Ordering};

/// Tile registers.
pub const TILES: usize = 8;
/// Most rows of a tile (palette 1).
pub const MAX_ROWS: usize = 16;
/// Most bytes per tile row (palette 1).
pub const MAX_ROW_BYTES: usize = 64;

/// A tile configuration (palette 1): rows and bytes per row of each tile; unused tiles are 0 x 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub rows: [u8; TILES],
    pub colsb: [u16; TILES],
}

/// A 64-byte aligned `ldtilecfg` block.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy)]
pub struct ConfigBlock(pub [u8; 64]);

impl Config {
    /// The memory block `ldtilecfg` reads: palette 1, start row 0, `colsb` as little-endian u16 at
    /// bytes 16..32, `rows` at bytes 48..56, the rest zero.
    pub fn block(&self) -> ConfigBlock {
        let mut b = [0u8; 64];
        b[0] = 1;
        for t in 0..TILES {
            b[16 + 2 * t..18 + 2 * t].copy_from_slice(&self.colsb[t].to_le_bytes());
            b[48 + t] = self.rows[t];
        }
        ConfigBlock(b)
    }

    /// Bytes a load or store of tile `t` with row stride `stride` touches: `(rows - 1) * stride +
    /// colsb`.
    pub fn span(&self, t: usize, stride: usize) -> usize {
        let rows = usize::from(self.rows[t]);
        if rows == 0 {
            return 0;
        }
        (rows - 1) * stride + usize::from(self.colsb[t])
    }
}

/// The tile instructions a tile program uses. Every method checks its operands against the
/// configuration (slices long enough for the rows and stride), so a tile program is safe Rust on
/// every machine; the hardware raises #UD where the emulations panic (a bad program, never input).
pub trait Tiles {
    /// `ldtilecfg`: sets every tile's shape and zeroes all tiles.
    fn configure(&mut self, cfg: &Config);
    /// `tilezero t`.
    fn zero(&mut self, t: usize);
    /// `tileloadd t, [src + stride * row]`: row `r` of tile `t` from `src[r * stride..]`.
    fn load(&mut self, t: usize, src: &[u8], stride: usize);
    /// `tdpbf16ps c, a, b`: `c[m][n] += a[m][2k] * b[k][2n] + a[m][2k+1] * b[k][2n+1]` over k,
    /// bf16 operands, f32 accumulators.
    fn dp_bf16(&mut self, c: usize, a: usize, b: usize);
    /// `tilestored [dst + stride * row], t`.
    fn store(&mut self, t: usize, dst: &mut [u8], stride: usize);
}

/// Whether this process can run AMX bf16 tile instructions, and if not, why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// CPUID reports AMX-TILE and AMX-BF16, the OS enabled the tile state, and Linux granted it.
    Available,
    /// Not an x86_64 Linux build (the permission request is Linux's `arch_prctl`).
    NotX86Linux,
    /// CPUID reports no AMX-TILE or no AMX-BF16.
    NoCpuSupport,
    /// The OS has not enabled the tile state in XCR0.
    NoOsSupport,
    /// `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)` failed with this errno.
    PermissionRefused(i32),
}

impl core::fmt::Display for Support {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Support::Available => write!(f, "AMX available"),
            Support::NotX86Linux => write!(f, "no AMX: not an x86_64 Linux build"),
            Support::NoCpuSupport => write!(f, "no AMX: the CPU has no AMX-TILE / AMX-BF16"),
            Support::NoOsSupport => write!(f, "no AMX: the OS has not enabled the tile state"),
            Support::PermissionRefused(e) => {
                write!(f, "no AMX: Linux refused the tile state (errno {e})")
            }
        }
    }
}

/// Which tile machine runs the AMX kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The AMX instructions.
    Hardware,
    /// Scalar emulation of the instructions (for tests; slow).
    Emulated,
    /// No tiles: the same sums with f32 vector FMAs straight from the packed weights
    /// (`pwconv_amx`'s run-time fallback), bit-identical to [`Backend::Emulated`].
    Simd,
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Backend::Hardware => "the AMX tile instructions",
            Backend::Emulated => "the scalar emulation of the tile instructions (slow; tests)",
            Backend::Simd => "f32 FMAs over the same bf16 operands (the fallback)",
        })
    }
}

/// 0: not probed yet, 1 + [`Support`] index after.
static SUPPORT: AtomicU8 = AtomicU8::new(0);
static SUPPORT_ERRNO: AtomicI32 = AtomicI32::new(0);
/// 0: automatic, 1 + [`Backend`] index when forced.
static FORCED: AtomicU8 = AtomicU8::new(0);
/// 0: probe the machine, else a [`Support`] code that [`support`] reports instead (tests).
static PRETEND: AtomicU8 = AtomicU8::new(0);
static PRETEND_ERRNO: AtomicI32 = AtomicI32::new(0);

fn support_code(s: Support) -> (u8, i32) {
    match s {
        Support::Available => (1, 0),
        Support::NotX86Linux => (2, 0),
        Support::NoCpuSupport => (3, 0),
        Support::NoOsSupport => (4, 0),
        Support::PermissionRefused(e) => (5, e),
    }
}

/// Makes [`support`] report `s` instead of what the machine answered (`None`: the machine's answer
/// again), to test on any machine what a binary does where AMX is missing or refused. Pretending
/// `Available` where the machine has no AMX is refused (the hardware path would fault).
#[doc(hidden)]
pub fn pretend_support(s: Option<Support>) -> Result<(), Support> {
    let code = match s {
        None => 0,
        Some(Support::Available) if probed() != Support::Available => return Err(probed()),
        Some(s) => {
            let (code, errno) = support_code(s);
            PRETEND_ERRNO.store(errno, Ordering::Relaxed);
            code
        }
    };
    PRETEND.store(code, Ordering::Relaxed);
    Ok(())
}

/// Probes AMX once per process (CPUID, XCR0, then asks Linux for the tile state) and caches the
/// answer; later calls are one atomic load.
pub fn support() -> Support {
    match PRETEND.load(Ordering::Relaxed) {
        0 => probed(),
        c => decode(c, PRETEND_ERRNO.load(Ordering::Relaxed)),
    }
}

/// What the machine answered.
fn probed() -> Support {
    let code = match SUPPORT.load(Ordering::Acquire) {
        0 => {
            let (code, errno) = support_code(probe());
            SUPPORT_ERRNO.store(errno, Ordering::Relaxed);
            SUPPORT.store(code, Ordering::Release);
            code
        }
        c => c,
    };
    decode(code, SUPPORT_ERRNO.load(Ordering::Relaxed))
}

fn decode(code: u8, errno: i32) -> Support {
    match code {
        1 => Support::Available,
        2 => Support::NotX86Linux,
        3 => Support::NoCpuSupport,
        4 => Support::NoOsSupport,
        _ => Support::PermissionRefused(errno),
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn probe() -> Support {
    hw::probe()
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn probe() -> Support {
    Support::NotX86Linux
}

/// The tile machine the AMX kernels use now: the forced one, else the hardware when
/// [`support`] says so, else [`Backend::Simd`].
pub fn backend() -> Backend {
    match FORCED.load(Ordering::Relaxed) {
        1 => Backend::Hardware,
        2 => Backend::Emulated,
        3 => Backend::Simd,
        _ if support() == Support::Available => Backend::Hardware,
        _ => Backend::Simd,
    }
}

/// Forces a tile machine for every later AMX kernel call in the process (`None`: automatic again).
/// Forcing [`Backend::Hardware`] where [`support`] is not [`Support::Available`] is refused with
/// the reason. Meant for tests and benchmarks: calls already running are not affected.
pub fn set_backend(b: Option<Backend>) -> Result<(), Support> {
    let code = match b {
        None => 0,
        Some(Backend::Hardware) => match support() {
            Support::Available => 1,
            other => return Err(other),
        },
        Some(Backend::Emulated) => 2,
        Some(Backend::Simd) => 3,
    };
    FORCED.store(code, Ordering::Relaxed);
    Ok(())
}

pub use pplcnet_spec::bf16_bits;

/// The f32 value of bf16 bits, denormals flushed to zero (AMX reads bf16 denormals as zero).
#[inline(always)]
pub fn bf16_daz(h: u16) -> f32 {
    if h & 0x7f80 == 0 {
        f32::from_bits(u32::from(h & 0x8000) << 16)
    } else {
        f32::from_bits(u32::from(h) << 16)
    }
}

/// `x` with a denormal result flushed to (signed) zero, as AMX writes its f32 accumulators.
#[inline(always)]
pub fn ftz(x: f32) -> f32 {
    if x.to_bits() & 0x7f80_0000 == 0 {
        f32::from_bits(x.to_bits() & 0x8000_0000)
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes past the test harness's output capture, so CI logs show what did not run and why.
    macro_rules! skip_notice {
        ($($arg:tt)*) => {{
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), $($arg)*);
        }};
    }

    #[test]
    fn config_block_layout() {
        let mut c = Config {
            rows: [0; TILES],
            colsb: [0; TILES],
        };
        c.rows[3] = 16;
        c.colsb[3] = 64;
        c.rows[7] = 5;
        c.colsb[7] = 0x0102;
        let b = c.block().0;
        assert_eq!(b[0], 1);
        assert_eq!(b[1], 0);
        assert_eq!(&b[22..24], &[64, 0]);
        assert_eq!(&b[30..32], &[0x02, 0x01]);
        assert_eq!(b[51], 16);
        assert_eq!(b[55], 5);
        assert_eq!(
            b.iter().map(|&x| usize::from(x)).sum::<usize>(),
            1 + 64 + 3 + 16 + 5
        );
        assert_eq!(c.span(3, 100), 15 * 100 + 64);
        assert_eq!(c.span(0, 100), 0);
    }

    #[test]
    fn bf16_flushing() {
        assert_eq!(bf16_daz(0x0001), 0.0);
        assert_eq!(bf16_daz(0x8001).to_bits(), 0x8000_0000);
        assert_eq!(bf16_daz(0x3f80), 1.0);
        assert_eq!(ftz(f32::MIN_POSITIVE / 2.0), 0.0);
        assert_eq!(ftz(f32::MIN_POSITIVE), f32::MIN_POSITIVE);
        assert_eq!(ftz(-1e-40).to_bits(), 0x8000_0000);
    }

    #[test]
    fn forcing_the_hardware_needs_support() {
        // Only this test changes the forced backend in this binary's unit tests.
        match support() {
            Support::Available => {
                set_backend(Some(Backend::Hardware)).unwrap();
                assert_eq!(backend(), Backend::Hardware);
            }
            other => {
                skip_notice!("skipped (hardware half): {other}");
                assert_eq!(set_backend(Some(Backend::Hardware)), Err(other));
                assert_eq!(backend(), Backend::Simd);
            }
        }
        set_backend(Some(Backend::Emulated)).unwrap();
        assert_eq!(backend(), Backend::Emulated);
        set_backend(None).unwrap();
    }
}
