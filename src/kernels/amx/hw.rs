//! The AMX instructions themselves, through `asm!` (the `core::arch` AMX intrinsics and target
//! features are unstable, rust-lang/rust#126622), and the process-wide probe that allows them.
//!
//! Tile registers cannot be `asm!` operands, so each instruction is one `asm!` block with its tile
//! numbers written into the template (a `match` over the numbers the kernels use). The compiler
//! never allocates tile registers itself, so their contents live from one block to the next, and
//! the OS saves them across context switches once the process holds the permission.

use core::arch::asm;

use super::{Config, Support, Tiles};

/// `arch_prctl` request: permission for an extended state component.
const ARCH_REQ_XCOMP_PERM: u64 = 0x1023;
/// The AMX tile data state component.
const XFEATURE_XTILEDATA: u64 = 18;
/// `arch_prctl` on x86_64 Linux.
const SYS_ARCH_PRCTL: i64 = 158;

/// CPUID, XCR0 and the Linux permission request, in that order.
#[cfg(target_os = "linux")]
pub(super) fn probe() -> Support {
    use core::arch::x86_64::__cpuid_count;
    // SAFETY: CPUID exists on every x86_64 CPU; leaf 0 gives the highest leaf.
    #[allow(unused_unsafe)]
    let max_leaf = unsafe { __cpuid_count(0, 0) }.eax;
    if max_leaf < 7 {
        return Support::NoCpuSupport;
    }
    // SAFETY: leaf 7 exists (checked above).
    #[allow(unused_unsafe)]
    let edx = unsafe { __cpuid_count(7, 0) }.edx;
    let (amx_bf16, amx_tile) = (edx >> 22 & 1 == 1, edx >> 24 & 1 == 1);
    if !(amx_bf16 && amx_tile) {
        return Support::NoCpuSupport;
    }
    // SAFETY: leaf 1 always exists.
    #[allow(unused_unsafe)]
    let osxsave = unsafe { __cpuid_count(1, 0) }.ecx >> 27 & 1 == 1;
    if !osxsave {
        return Support::NoOsSupport;
    }
    let (lo, _hi): (u32, u32);
    // SAFETY: XGETBV is available when CPUID reports OSXSAVE (checked above); ECX = 0 reads XCR0.
    unsafe {
        asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") _hi,
             options(nomem, nostack, preserves_flags));
    }
    // XTILECFG (bit 17) and XTILEDATA (bit 18).
    if lo >> 17 & 3 != 3 {
        return Support::NoOsSupport;
    }
    let ret: i64;
    // SAFETY: the arch_prctl system call takes its arguments in rdi and rsi and clobbers rcx and
    // r11; ARCH_REQ_XCOMP_PERM only changes which state the kernel saves for this process.
    unsafe {
        asm!("syscall",
             inlateout("rax") SYS_ARCH_PRCTL => ret,
             in("rdi") ARCH_REQ_XCOMP_PERM, in("rsi") XFEATURE_XTILEDATA,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    if ret == 0 {
        Support::Available
    } else {
        Support::PermissionRefused(i32::try_from(-ret).unwrap_or(i32::MAX))
    }
}

/// The tile registers of the calling thread. Made only where [`super::support`] is
/// [`Support::Available`]; releases the tile state when dropped (a thread holding it keeps its
/// core out of deep idle states).
pub struct Hw {
    cfg: Config,
    configured: bool,
}

impl Hw {
    /// The tiles, if this process may use them.
    pub fn new() -> Option<Hw> {
        (super::support() == Support::Available).then_some(Hw {
            cfg: Config {
                rows: [0; super::TILES],
                colsb: [0; super::TILES],
            },
            configured: false,
        })
    }

    fn configured(&self, t: usize) {
        assert!(
            self.configured && self.cfg.rows[t] > 0,
            "tile {t} is not configured"
        );
    }

    fn check(&self, t: usize, len: usize, stride: usize) {
        self.configured(t);
        assert!(
            len >= self.cfg.span(t, stride),
            "tile {t} access past the slice"
        );
    }
}

impl Drop for Hw {
    fn drop(&mut self) {
        if self.configured {
            // SAFETY: AMX is available (a `Hw` exists); TILERELEASE only resets the tile state.
            unsafe { asm!("tilerelease", options(nomem, nostack, preserves_flags)) };
        }
    }
}

/// One instruction per tile number, e.g. `per_tile!(t, (options(nomem)), [0 => "tilezero tmm0"])`:
/// the operands in parentheses, then a template per tile.
macro_rules! per_tile {
    ($t:expr, $ops:tt, [$($n:literal => $tmpl:literal),*]) => {
        match $t {
            $($n => per_tile!(@one $tmpl, $ops),)*
            t => panic!("tile {t} is not one the kernels use"),
        }
    };
    (@one $tmpl:literal, ($($op:tt)*)) => {
        // SAFETY: see the caller, which checked the tile and the memory it touches.
        unsafe { asm!($tmpl, $($op)*) }
    };
}

impl Tiles for Hw {
    fn configure(&mut self, cfg: &Config) {
        let block = cfg.block();
        // SAFETY: AMX is available; the block is a valid palette-1 configuration of 64 aligned
        // bytes (`Config::block`), which LDTILECFG reads and nothing else.
        unsafe {
            asm!("ldtilecfg [{}]", in(reg) block.0.as_ptr(), options(nostack, readonly, preserves_flags));
        }
        self.cfg = *cfg;
        self.configured = true;
    }

    fn zero(&mut self, t: usize) {
        self.configured(t);
        // SAFETY: AMX is available and tile `t` configured (checked).
        per_tile!(t, (options(nomem, nostack, preserves_flags)), [
            0 => "tilezero tmm0", 1 => "tilezero tmm1", 2 => "tilezero tmm2",
            3 => "tilezero tmm3", 4 => "tilezero tmm4", 5 => "tilezero tmm5",
            6 => "tilezero tmm6", 7 => "tilezero tmm7"]);
    }

    fn load(&mut self, t: usize, src: &[u8], stride: usize) {
        self.check(t, src.len(), stride);
        let p = src.as_ptr();
        // SAFETY: AMX is available, tile `t` configured, and the rows it reads, `(rows - 1) *
        // stride + colsb` bytes from `p`, lie inside `src` (checked).
        per_tile!(t, (p = in(reg) p, s = in(reg) stride, options(nostack, readonly, preserves_flags)), [
            0 => "tileloadd tmm0, [{p} + {s}*1]", 1 => "tileloadd tmm1, [{p} + {s}*1]",
            2 => "tileloadd tmm2, [{p} + {s}*1]", 3 => "tileloadd tmm3, [{p} + {s}*1]",
            4 => "tileloadd tmm4, [{p} + {s}*1]", 5 => "tileloadd tmm5, [{p} + {s}*1]",
            6 => "tileloadd tmm6, [{p} + {s}*1]", 7 => "tileloadd tmm7, [{p} + {s}*1]"]);
    }

    fn dp_bf16(&mut self, c: usize, a: usize, b: usize) {
        for x in [c, a, b] {
            self.configured(x);
        }
        // SAFETY: AMX-BF16 is available and the tiles configured (checked); the kernels pair
        // tiles of matching shapes (the emulations assert the same shapes in every test).
        match (c, a, b) {
            (0, 4, 6) => unsafe {
                asm!(
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    options(nomem, nostack, preserves_flags)
                )
            },
            (1, 4, 7) => unsafe {
                asm!(
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    options(nomem, nostack, preserves_flags)
                )
            },
            (2, 5, 6) => unsafe {
                asm!(
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    options(nomem, nostack, preserves_flags)
                )
            },
            (3, 5, 7) => unsafe {
                asm!(
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    options(nomem, nostack, preserves_flags)
                )
            },
            other => panic!("tiles {other:?} are not a combination the kernels use"),
        }
    }

    fn store(&mut self, t: usize, dst: &mut [u8], stride: usize) {
        self.check(t, dst.len(), stride);
        let p = dst.as_mut_ptr();
        // SAFETY: AMX is available, tile `t` configured, and the rows it writes, `(rows - 1) *
        // stride + colsb` bytes from `p`, lie inside `dst`, which we borrow mutably (checked).
        per_tile!(t, (p = in(reg) p, s = in(reg) stride, options(nostack, preserves_flags)), [
            0 => "tilestored [{p} + {s}*1], tmm0", 1 => "tilestored [{p} + {s}*1], tmm1",
            2 => "tilestored [{p} + {s}*1], tmm2", 3 => "tilestored [{p} + {s}*1], tmm3",
            4 => "tilestored [{p} + {s}*1], tmm4", 5 => "tilestored [{p} + {s}*1], tmm5",
            6 => "tilestored [{p} + {s}*1], tmm6", 7 => "tilestored [{p} + {s}*1], tmm7"]);
    }
}
