//! `pplcnet info`: what was compiled in.

use super::*;

pub(super) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `(name, enabled at compile time)` for the SIMD features that matter to the kernels.
pub(super) fn compiled_features() -> Vec<(&'static str, bool)> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        v.extend([
            ("sse2", cfg!(target_feature = "sse2")),
            ("sse4.1", cfg!(target_feature = "sse4.1")),
            ("avx", cfg!(target_feature = "avx")),
            ("avx2", cfg!(target_feature = "avx2")),
            ("fma", cfg!(target_feature = "fma")),
            ("f16c", cfg!(target_feature = "f16c")),
            ("avx512f", cfg!(target_feature = "avx512f")),
            ("avx512bw", cfg!(target_feature = "avx512bw")),
            ("avx512vl", cfg!(target_feature = "avx512vl")),
            ("avx512vnni", cfg!(target_feature = "avx512vnni")),
        ]);
    }
    #[cfg(target_arch = "aarch64")]
    {
        v.extend([
            ("neon", cfg!(target_feature = "neon")),
            ("dotprod", cfg!(target_feature = "dotprod")),
        ]);
    }
    v
}

/// Features the running CPU has that the binary was not compiled to use, and compiled-in ones it
/// lacks (which would crash).
pub(super) fn runtime_note() -> Option<String> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let have = |f: &str| match f {
            "sse2" => std::arch::is_x86_feature_detected!("sse2"),
            "sse4.1" => std::arch::is_x86_feature_detected!("sse4.1"),
            "avx" => std::arch::is_x86_feature_detected!("avx"),
            "avx2" => std::arch::is_x86_feature_detected!("avx2"),
            "fma" => std::arch::is_x86_feature_detected!("fma"),
            "f16c" => std::arch::is_x86_feature_detected!("f16c"),
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
            "avx512vl" => std::arch::is_x86_feature_detected!("avx512vl"),
            "avx512vnni" => std::arch::is_x86_feature_detected!("avx512vnni"),
            _ => false,
        };
        let unused: Vec<&str> = compiled_features()
            .into_iter()
            .filter(|&(f, on)| !on && have(f))
            .map(|(f, _)| f)
            .collect();
        if !unused.is_empty() {
            return Some(format!(
                "this CPU also has {} (rebuild with -C target-cpu=native to use them)",
                unused.join(" ")
            ));
        }
    }
    None
}

pub(super) fn info() -> io::Result<ExitCode> {
    let m = &MODEL;
    let mut out = io::stdout().lock();
    writeln!(out, "model:            {}", m.name)?;
    writeln!(out, "source:           {}", m.source)?;
    writeln!(
        out,
        "seeded default:   {}",
        if m.seeded_default {
            "yes (seeded stand-in weights: predictions are meaningless; build with PPLCNET_MODEL=... for real ones)"
        } else {
            "no"
        }
    )?;
    writeln!(out, "precision:        {}", m.precision.summary())?;
    if m.layers.iter().any(|l| l.variant.ends_with("_amx")) {
        use pplcnet::kernels::amx;
        writeln!(
            out,
            "AMX tiles:        {} -> runs on {}",
            amx::support(),
            amx::backend()
        )?;
    }
    let kind = match m.output {
        pplcnet::OutputKind::Probabilities => "probabilities (the graph ends in softmax)",
        pplcnet::OutputKind::Logits => "logits (no softmax in the graph)",
        pplcnet::OutputKind::MultiLabel => {
            "multi-label probabilities (the graph ends in a sigmoid per class)"
        }
    };
    writeln!(out, "output:           {kind}")?;
    writeln!(out, "parameters:       {}", thousands(m.params))?;
    writeln!(out, "MACs per image:   {}", thousands(m.macs))?;
    let p = pplcnet::PREPROCESSING;
    let order = if p.bgr { "BGR" } else { "RGB" };
    writeln!(
        out,
        "input:            {INPUT_WIDTH}x{INPUT_HEIGHT}x3 u8 {order}, HWC ({INPUT_LEN} bytes)"
    )?;
    writeln!(out, "classes:          {NUM_CLASSES}")?;
    writeln!(
        out,
        "workspace bytes:  {}",
        thousands(m.workspace_bytes as u64)
    )?;
    writeln!(
        out,
        "weight bytes:     {}",
        thousands(m.weight_bytes as u64)
    )?;
    let resize = match p.resize {
        pplcnet::Resize::ShortSideCrop { short } => {
            format!("resize short side {short}, center crop {INPUT_WIDTH}x{INPUT_HEIGHT}")
        }
        pplcnet::Resize::Exact => format!("resize to {INPUT_WIDTH}x{INPUT_HEIGHT}"),
        pplcnet::Resize::HeightPadWidth => format!(
            "resize to height {INPUT_HEIGHT} keeping the ratio (width <= {INPUT_WIDTH}), pad the width with {:?}",
            p.pad
        ),
    };
    writeln!(out, "preprocessing:    {resize} (OpenCV INTER_LINEAR)")?;
    if m.output == pplcnet::OutputKind::MultiLabel {
        writeln!(out, "threshold:        {}", pplcnet::THRESHOLD)?;
    }
    let feats = compiled_features();
    let on: Vec<&str> = feats.iter().filter(|f| f.1).map(|f| f.0).collect();
    let off: Vec<&str> = feats.iter().filter(|f| !f.1).map(|f| f.0).collect();
    writeln!(out, "target:           {}", std::env::consts::ARCH)?;
    writeln!(
        out,
        "CPU features:     {}",
        if on.is_empty() {
            "(baseline)".to_owned()
        } else {
            on.join(" ")
        }
    )?;
    if !off.is_empty() {
        writeln!(out, "not compiled in:  {}", off.join(" "))?;
    }
    if let Some(note) = runtime_note() {
        writeln!(out, "note:             {note}")?;
    }
    writeln!(
        out,
        "layers ({} kernel calls after fusion):",
        m.layers.len()
    )?;
    for l in m.layers {
        writeln!(out, "  {l}  [{}]", l.variant)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
