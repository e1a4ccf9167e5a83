//! Models compiled with the AMX kernels (`PPLCNET_PRECISION=bf16`, `PPLCNET_BF16_ISA=amx`), on every
//! machine: the same tile programs run on the scalar emulation of the AMX instructions and (where
//! the CPU and OS allow) on the hardware, and the same sums on the kernel's FMA fallback, against
//! onnxruntime's f32 outputs within `pplcnet_testmodels::bf16_bound`.
//!
//! The tile arithmetic itself is proven by `pwconv_amx`'s unit tests (float64 reference, swept
//! shapes); here the whole model is checked for wiring, the run-time choice of tile machine, and
//! the fallback where AMX is missing or refused.

/// Writes past the test harness's output capture, so CI logs show what did not run and why.
macro_rules! skip_notice {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use std::sync::Mutex;

use pplcnet::kernels::amx::{self, Backend, Support};
use pplcnet_testmodels::bf16_bound;
use pplcnet_testmodels::models::AMX_MODELS;
use pplcnet_testmodels::parity::reference_cases;

/// The tile machine is process-wide state: one test changes it at a time.
static TILE_MACHINE: Mutex<()> = Mutex::new(());

const AMX_VARIANT: &str = "pwconv_bf16_32x32_amx";

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn run_on(b: Backend, run: fn(&[u8]) -> Vec<f32>, input: &[u8]) -> Vec<f32> {
    amx::set_backend(Some(b)).expect("backend available");
    let out = run(input);
    amx::set_backend(None).unwrap();
    out
}

#[test]
fn amx_models_match_onnxruntime_on_every_tile_machine() {
    let _guard = TILE_MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    if AMX_MODELS.is_empty() {
        skip_notice!("skipped: not an x86_64 target");
        return;
    }
    assert_eq!(AMX_MODELS.len(), 3);
    let hw = amx::support();
    let mut hw_vs_emu = 0.0f32;
    // AMX layers in banded chains (the serial path; the parallel path runs them whole).
    let mut banded = 0;
    for model in AMX_MODELS {
        // Every matrix product runs on the AMX variant (none of these models is wider than its
        // MAX_K).
        let gemms: Vec<_> = model
            .info
            .layers
            .iter()
            .filter(|l| {
                l.kernel.starts_with("pwconv")
                    || l.kernel == "fully_connected"
                    || l.kernel == "squeeze_gate"
            })
            .collect();
        assert!(!gemms.is_empty(), "{}: no matrix product", model.stem);
        for l in gemms {
            assert_eq!(l.variant, AMX_VARIANT, "{}: {l}", model.stem);
            assert!(l.summary.contains(" bf16 amx"), "{}: {l}", model.stem);
            banded += usize::from(l.summary.contains("+band"));
        }
        let cases = reference_cases(model.stem);
        assert_eq!(cases.len(), 5);
        for case in &cases {
            let simd = run_on(Backend::Simd, model.run, &case.input);
            bf16_bound::check(model.stem, &case.name, &simd, &case.expected);
            // The parallel path (row tiles or weight tiles per thread) is bit-identical.
            amx::set_backend(Some(Backend::Simd)).unwrap();
            for threads in [2, 3] {
                let pool = pplcnet::Parallel::new(threads);
                let par = pool.with_team(|team| (model.run_parallel)(&case.input, team));
                assert_eq!(
                    bits(&par),
                    bits(&simd),
                    "{} / {}: {threads} threads",
                    model.stem,
                    case.name
                );
            }
            amx::set_backend(None).unwrap();
            // The scalar emulation of the instructions and the FMA fallback round alike.
            let emu = run_on(Backend::Emulated, model.run, &case.input);
            assert_eq!(
                bits(&emu),
                bits(&simd),
                "{} / {}: emulated vs fallback",
                model.stem,
                case.name
            );
            // The tile machines' parallel split (at whole tiles) too.
            amx::set_backend(Some(Backend::Emulated)).unwrap();
            let pool = pplcnet::Parallel::new(2);
            let par = pool.with_team(|team| (model.run_parallel)(&case.input, team));
            amx::set_backend(None).unwrap();
            assert_eq!(
                bits(&par),
                bits(&emu),
                "{} / {}: emulated, 2 threads",
                model.stem,
                case.name
            );
            if hw == Support::Available {
                let got = run_on(Backend::Hardware, model.run, &case.input);
                bf16_bound::check(model.stem, &case.name, &got, &case.expected);
                let scale = case.expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = got
                    .iter()
                    .zip(&emu)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                hw_vs_emu = hw_vs_emu.max(d / scale);
            }
        }
    }
    assert!(banded > 0, "no AMX layer runs in a banded chain");
    if hw == Support::Available {
        eprintln!(
            "AMX hardware vs emulation: max |diff| {:.2}% of the largest |logit|",
            100.0 * hw_vs_emu
        );
    } else {
        skip_notice!("skipped (hardware tiles): {hw}; the emulations ran the same tile programs");
    }
}

#[test]
fn where_amx_is_missing_or_refused_the_kernels_fall_back() {
    let _guard = TILE_MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(model) = AMX_MODELS.get(1) else {
        skip_notice!("skipped: not an x86_64 target");
        return;
    };
    let case = &reference_cases(model.stem)[0];
    let want = run_on(Backend::Simd, model.run, &case.input);
    for pretend in [
        Support::NoCpuSupport,
        Support::NoOsSupport,
        Support::PermissionRefused(1),
    ] {
        amx::pretend_support(Some(pretend)).unwrap();
        assert_eq!(amx::support(), pretend);
        assert_eq!(amx::backend(), Backend::Simd, "{pretend:?}");
        // Forcing the hardware is refused with the reason, never a SIGILL.
        assert_eq!(amx::set_backend(Some(Backend::Hardware)), Err(pretend));
        // The kernels' own gate: no tiles are handed out.
        #[cfg(target_arch = "x86_64")]
        assert!(amx::hw::Hw::new().is_none());
        let got = (model.run)(&case.input);
        assert_eq!(bits(&got), bits(&want), "{pretend:?}");
    }
    amx::pretend_support(None).unwrap();
    // Pretending AMX where the machine has none is refused too.
    if amx::support() != Support::Available {
        assert!(amx::pretend_support(Some(Support::Available)).is_err());
    }
}
