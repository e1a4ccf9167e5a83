//! `pplcnet`: PaddleClas-compatible command line for the embedded PP-LCNetV2 classifier.
//!
//! ```text
//! pplcnet predict IMG_OR_DIR... [--topk K] [--json [--logits]] [--batch-threads N]
//! pplcnet eval --list val_list.txt --root DIR [--limit N]
//! pplcnet bench [--iters N] [--threads N] [--parallel N] [--json] [--layers]
//! pplcnet preprocess IMAGE -o OUT.rgb
//! pplcnet info
//! ```

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Barrier};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use pplcnet::preprocess::{self, PreprocessConfig, PreprocessError};
use pplcnet::report;
use pplcnet::{
    LayerInfo, Workspace, INPUT_HEIGHT, INPUT_LEN, INPUT_WIDTH, LABELS, MODEL, NUM_CLASSES,
};

/// PP-LCNetV2 image classification, compiled to native code, with PaddleClas's preprocessing
/// and output formats.
#[derive(Parser)]
#[command(name = "pplcnet", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify images, directories of images, or raw .rgb inputs (like PaddleClas's predict_cls.py).
    Predict(PredictArgs),
    /// Top-1/top-5 accuracy on a PaddleClas list file (`relative/path.JPEG label` per line).
    Eval(EvalArgs),
    /// Measure the latency and throughput of `classify`.
    Bench(BenchArgs),
    /// Write the exact 224x224x3 RGB bytes `classify` sees for an image.
    Preprocess(PreprocessArgs),
    /// Describe the embedded model, its kernel plan and the CPU features this binary was built for.
    Info,
}

#[derive(Args, Clone, Copy)]
struct ResizeOpts {
    /// Resize the short side to this many pixels before the center crop (PaddleClas resize_short).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65535))]
    resize_short: u32,
    /// Accept images smaller than the crop by upscaling them (PaddleClas always does).
    #[arg(long)]
    allow_upscale: bool,
}

impl ResizeOpts {
    fn config(&self) -> PreprocessConfig {
        PreprocessConfig {
            resize_short: self.resize_short,
            crop: INPUT_WIDTH as u32,
            allow_upscale: self.allow_upscale,
        }
    }
}

#[derive(Args)]
struct PredictArgs {
    /// Image files, directories (searched recursively for .jpg .jpeg .png .bmp .JPG .JPEG, sorted),
    /// or .rgb files of exactly 224*224*3 bytes (HWC RGB) that go straight to the model.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// How many classes to report per image.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    topk: u32,
    /// Print JSON Lines: {"filename", "class_ids", "scores", "label_names"} per image.
    #[arg(long)]
    json: bool,
    /// With --json, add "logits": all model outputs in class order.
    #[arg(long, requires = "json")]
    logits: bool,
    /// Worker threads (each with its own workspace); default: all cores.
    #[arg(long, visible_alias = "threads", value_name = "N")]
    batch_threads: Option<usize>,
    #[command(flatten)]
    resize: ResizeOpts,
}

#[derive(Args)]
struct EvalArgs {
    /// List file: one `relative/path label` per line (PaddleClas format).
    #[arg(long, value_name = "FILE")]
    list: PathBuf,
    /// Directory the list's paths are relative to.
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,
    /// Evaluate only the first N entries.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Worker threads; default: all cores.
    #[arg(long, visible_alias = "threads", value_name = "N")]
    batch_threads: Option<usize>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    resize: ResizeOpts,
}

#[derive(Args)]
struct BenchArgs {
    /// Timed runs (per thread for the throughput part).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    iters: u64,
    /// Untimed runs first.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Threads for the throughput measurement; default: all cores.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also time every layer (median over the runs) and report GFLOP/s per layer.
    #[arg(long)]
    layers: bool,
    /// Measure the latency of the multi-threaded entry point (`pplcnet::Parallel`, every heavy
    /// layer split across N threads) instead of single-threaded `classify_with`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=pplcnet::parallel::MAX_THREADS as u64))]
    parallel: Option<u64>,
}

#[derive(Args)]
struct PreprocessArgs {
    /// The image.
    image: PathBuf,
    /// Output file (`-` for standard output).
    #[arg(short, long, value_name = "OUT.rgb")]
    output: PathBuf,
    #[command(flatten)]
    resize: ResizeOpts,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Predict(a) => predict(a),
        Command::Eval(a) => eval(a),
        Command::Bench(a) => bench(a),
        Command::Preprocess(a) => preprocess_cmd(a),
        Command::Info => info(),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pplcnet: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// shared helpers

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The reason part of an error message (the caller names the file).
fn reason(e: &PreprocessError) -> String {
    match e {
        PreprocessError::Io { source, .. } => source.to_string(),
        PreprocessError::TooSmall { width, height, crop } => format!(
            "the image is {width}x{height}, smaller than the {crop}x{crop} crop (--allow-upscale accepts it)"
        ),
        other => other.to_string(),
    }
}

/// PaddleClas `get_image_list`: the last `.`-separated part of the name, case-sensitive.
fn has_image_ext(path: &Path) -> bool {
    const EXTS: [&str; 6] = ["jpg", "png", "jpeg", "JPEG", "JPG", "bmp"];
    match path.file_name().and_then(|n| n.to_str()) {
        Some(name) => EXTS.contains(&name.rsplit('.').next().unwrap_or(name)),
        None => false,
    }
}

fn is_raw_rgb(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("rgb"))
}

/// Walks `dir` like `os.walk` (symlinked directories are not entered), collecting images.
fn walk_images(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    for entry in rd {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            walk_images(&path, out, errors);
        } else if has_image_ext(&path) {
            out.push(path);
        }
    }
}

/// Reads one input into `buf`: a raw `.rgb` file or an image to decode and preprocess.
fn load_input(
    path: &Path,
    cfg: &PreprocessConfig,
    buf: &mut [u8; INPUT_LEN],
) -> Result<(), String> {
    if is_raw_rgb(path) {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if meta.len() != INPUT_LEN as u64 {
            return Err(format!(
                ".rgb input must be exactly {INPUT_LEN} bytes ({INPUT_WIDTH}x{INPUT_HEIGHT}x3 RGB, HWC), this file has {}",
                meta.len()
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        if bytes.len() != INPUT_LEN {
            return Err(format!(
                ".rgb input must be exactly {INPUT_LEN} bytes, read {}",
                bytes.len()
            ));
        }
        buf.copy_from_slice(&bytes);
        return Ok(());
    }
    let img = preprocess::load_image(path).map_err(|e| reason(&e))?;
    preprocess::preprocess_into(&img, cfg, &mut buf[..]).map_err(|e| reason(&e))
}

/// Runs `work(index, workspace, buffer)` for indices `0..n` on `threads` workers, handing each
/// result to `sink` in index order as soon as it and all earlier ones are ready.
fn run_ordered<R: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(usize, &mut Workspace, &mut [u8; INPUT_LEN]) -> R + Sync,
    mut sink: impl FnMut(usize, R) -> io::Result<()>,
) -> io::Result<()> {
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        let mut ws = Workspace::new_boxed();
        let mut buf = Box::new([0u8; INPUT_LEN]);
        for i in 0..n {
            let r = work(i, &mut ws, &mut buf);
            sink(i, r)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<(usize, R)>(threads * 4);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || {
                let mut ws = Workspace::new_boxed();
                let mut buf = Box::new([0u8; INPUT_LEN]);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = work(i, &mut ws, &mut buf);
                    if tx.send((i, r)).is_err() {
                        break; // the consumer stopped (e.g. broken pipe)
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                if let Err(e) = sink(want, r) {
                    next.store(n, Ordering::Relaxed); // stop the workers
                    return Err(e);
                }
                want += 1;
            }
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// predict

fn predict(a: PredictArgs) -> io::Result<ExitCode> {
    let cfg = a.resize.config();
    let mut failed = false;
    let mut items = Vec::new();
    for p in &a.paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let mut errors = Vec::new();
            walk_images(p, &mut found, &mut errors);
            for e in errors {
                eprintln!("pplcnet: {e}");
                failed = true;
            }
            if found.is_empty() {
                eprintln!(
                    "pplcnet: {}: no images found (looked for .jpg .jpeg .png .bmp .JPG .JPEG)",
                    p.display()
                );
                failed = true;
            }
            found.sort();
            items.extend(found);
        } else {
            items.push(p.clone());
        }
    }
    let k = (a.topk as usize).min(NUM_CLASSES);
    let threads = a.batch_threads.unwrap_or_else(default_threads);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let interactive = io::stdout().is_terminal();
    run_ordered(
        items.len(),
        threads,
        |i, ws, buf| -> Result<String, String> {
            let path = &items[i];
            load_input(path, &cfg, buf)?;
            let probs = pplcnet::classify_with(buf, ws);
            let top = pplcnet::top_k_vec(&probs, k);
            Ok(if a.json {
                let name = path.to_string_lossy();
                report::json_line(&name, &top, &LABELS[..], a.logits.then_some(&probs[..]))
            } else {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_else(|| path.to_string_lossy());
                report::predict_line(&name, &top, &LABELS[..])
            })
        },
        |i, r| {
            match r {
                Ok(line) => {
                    writeln!(out, "{line}")?;
                    if interactive {
                        out.flush()?;
                    }
                }
                Err(msg) => {
                    out.flush()?;
                    eprintln!("pplcnet: {}: {msg}", items[i].display());
                    failed = true;
                }
            }
            Ok(())
        },
    )?;
    out.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

// ---------------------------------------------------------------------------------------------
// eval

fn eval(a: EvalArgs) -> io::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.list)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", a.list.display())))?;
    let mut failed = false;
    let mut entries: Vec<(PathBuf, usize)> = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(path), Some(label)) = (parts.next(), parts.next()) else {
            eprintln!(
                "pplcnet: {}:{}: malformed line (expected `path label`): {line}",
                a.list.display(),
                no + 1
            );
            failed = true;
            continue;
        };
        match label.parse::<usize>() {
            Ok(l) if l < NUM_CLASSES => entries.push((a.root.join(path), l)),
            _ => {
                eprintln!(
                    "pplcnet: {}:{}: malformed line (label must be an integer in 0..{NUM_CLASSES}): {line}",
                    a.list.display(),
                    no + 1
                );
                failed = true;
            }
        }
    }
    if let Some(limit) = a.limit {
        entries.truncate(limit);
    }
    let cfg = a.resize.config();
    let threads = a.batch_threads.unwrap_or_else(default_threads);
    let total = entries.len();
    let (mut done, mut top1, mut top5, mut errors) = (0usize, 0usize, 0usize, 0usize);
    let progress = io::stderr().is_terminal();
    let start = Instant::now();
    let mut last_draw = start;
    run_ordered(
        total,
        threads,
        |i, ws, buf| -> Result<(bool, bool), String> {
            let (path, label) = &entries[i];
            load_input(path, &cfg, buf)?;
            let probs = pplcnet::classify_with(buf, ws);
            let top = pplcnet::top_k::<5>(&probs);
            Ok((top[0].0 == *label, top.iter().any(|t| t.0 == *label)))
        },
        |i, r| {
            match r {
                Ok((t1, t5)) => {
                    done += 1;
                    top1 += t1 as usize;
                    top5 += t5 as usize;
                }
                Err(msg) => {
                    errors += 1;
                    if progress {
                        eprint!("\r\x1b[K");
                    }
                    eprintln!("pplcnet: {}: {msg}", entries[i].0.display());
                }
            }
            if progress && (last_draw.elapsed() > Duration::from_millis(200) || i + 1 == total) {
                last_draw = Instant::now();
                let n = done + errors;
                let width = 30;
                let filled = (n * width).checked_div(total).unwrap_or(width);
                eprint!(
                    "\r\x1b[K[{}{}] {n}/{total}  top1 {:.4}  top5 {:.4}  {:.1} img/s",
                    "#".repeat(filled),
                    " ".repeat(width - filled),
                    top1 as f64 / done.max(1) as f64,
                    top5 as f64 / done.max(1) as f64,
                    n as f64 / start.elapsed().as_secs_f64().max(1e-9)
                );
            }
            Ok(())
        },
    )?;
    if progress {
        eprintln!();
    }
    let secs = start.elapsed().as_secs_f64();
    let acc = |c: usize| {
        if done == 0 {
            0.0
        } else {
            c as f64 / done as f64
        }
    };
    let ips = (done + errors) as f64 / secs.max(1e-9);
    if a.json {
        println!(
            "{{\"top1\": {:.5}, \"top5\": {:.5}, \"images\": {done}, \"failed\": {errors}, \"seconds\": {secs:.3}, \"images_per_second\": {ips:.2}}}",
            acc(top1),
            acc(top5)
        );
    } else {
        println!(
            "top1: {:.5}, top5: {:.5}, images: {done}, failed: {errors}, {ips:.1} images/s",
            acc(top1),
            acc(top5)
        );
    }
    Ok(if failed || errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

// ---------------------------------------------------------------------------------------------
// bench

fn bench_input() -> Box<[u8; INPUT_LEN]> {
    let mut buf = Box::new([0u8; INPUT_LEN]);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 56) as u8;
    }
    buf
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median time of every layer over `iters` runs, printed with GFLOP/s (2 flops per MAC).
fn bench_layers(
    input: &[u8; INPUT_LEN],
    ws: &mut Workspace,
    iters: u64,
    pool: Option<&pplcnet::Parallel>,
) {
    let n = MODEL.layers.len();
    let mut samples = vec![Vec::with_capacity(iters as usize); n];
    let mut stamps = vec![Instant::now(); n];
    for _ in 0..iters {
        let start = Instant::now();
        let hook = |i: usize| stamps[i] = Instant::now();
        std::hint::black_box(match pool {
            Some(pool) => pool.classify_with_hook(input, ws, hook),
            None => pplcnet::classify_with_hook(input, ws, hook),
        });
        let mut prev = start;
        for (i, &t) in stamps.iter().enumerate() {
            samples[i].push(t - prev);
            prev = t;
        }
    }
    let medians: Vec<Duration> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            percentile(s, 50.0)
        })
        .collect();
    let total: Duration = medians.iter().sum();
    println!(
        "per layer, median of {iters} runs (sum of medians {:.3} ms):",
        ms(total)
    );
    println!(
        "  {:>3}  {:>8}  {:>5}  {:>7}  layer",
        "#", "ms", "%", "GFLOP/s"
    );
    // The serial path runs banded chains as one unit (timed on their first layer): their layers
    // are listed together, under one time.
    let chain = |l: &LayerInfo| l.chain.filter(|_| pool.is_none());
    let chain_macs = |(a, b): (usize, usize)| MODEL.layers[a..=b].iter().map(|l| l.macs).sum();
    let gflops = |macs: u64, d: &Duration| {
        if macs > 0 {
            format!(
                "{:7.1}",
                2.0 * macs as f64 / d.as_secs_f64().max(1e-12) / 1e9
            )
        } else {
            format!("{:>7}", "-")
        }
    };
    for (i, (l, d)) in MODEL.layers.iter().zip(&medians).enumerate() {
        let pct = 100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-12);
        match chain(l) {
            Some((a, b)) if a == i => {
                let g = gflops(chain_macs((a, b)), d);
                println!("  {i:>3}  {:8.4}  {pct:5.1}  {g}  {l}", ms(*d));
            }
            Some((a, _)) => println!(
                "  {i:>3}  {:>8}  {:>5}  {:>7}  {l} (timed with #{a})",
                "", "", ""
            ),
            None => println!(
                "  {i:>3}  {:8.4}  {pct:5.1}  {}  {l}",
                ms(*d),
                gflops(l.macs, d)
            ),
        }
    }
    let mut by_kernel: BTreeMap<&str, (Duration, u64)> = BTreeMap::new();
    for (i, (l, d)) in MODEL.layers.iter().zip(&medians).enumerate() {
        let (key, macs) = match chain(l) {
            Some((a, b)) if a == i => ("banded chains", chain_macs((a, b))),
            Some(_) => continue,
            None => (l.kernel, l.macs),
        };
        let e = by_kernel.entry(key).or_default();
        e.0 += *d;
        e.1 += macs;
    }
    println!("per kernel:");
    for (k, (d, macs)) in by_kernel {
        let gflops = 2.0 * macs as f64 / d.as_secs_f64().max(1e-12) / 1e9;
        println!(
            "  {k:<16} {:8.3} ms  {:5.1}%  {gflops:7.1} GFLOP/s",
            ms(d),
            100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-12)
        );
    }
}

fn bench(a: BenchArgs) -> io::Result<ExitCode> {
    let input = bench_input();
    let mut ws = Workspace::new_boxed();
    let pool = a.parallel.map(|n| pplcnet::Parallel::new(n as usize));
    let run = |ws: &mut Workspace| match &pool {
        Some(pool) => pool.classify(std::hint::black_box(&input), ws),
        None => pplcnet::classify_with(std::hint::black_box(&input), ws),
    };
    if a.layers {
        for _ in 0..a.warmup {
            std::hint::black_box(run(&mut ws));
        }
        bench_layers(&input, &mut ws, a.iters, pool.as_ref());
        return Ok(ExitCode::SUCCESS);
    }
    for _ in 0..a.warmup {
        std::hint::black_box(run(&mut ws));
    }
    let mut lat = Vec::with_capacity(a.iters as usize);
    for _ in 0..a.iters {
        let t = Instant::now();
        std::hint::black_box(run(&mut ws));
        lat.push(t.elapsed());
    }
    lat.sort();
    let mean = lat.iter().sum::<Duration>() / lat.len() as u32;
    let (min, med, p90, p99) = (
        lat[0],
        percentile(&lat, 50.0),
        percentile(&lat, 90.0),
        percentile(&lat, 99.0),
    );

    let threads = a.threads.unwrap_or_else(default_threads).max(1);
    let barrier = Barrier::new(threads + 1);
    let wall = std::thread::scope(|s| {
        for _ in 0..threads {
            let (barrier, input) = (&barrier, &input);
            s.spawn(move || {
                let mut ws = Workspace::new_boxed();
                for _ in 0..a.warmup.min(3) {
                    std::hint::black_box(pplcnet::classify_with(input, &mut ws));
                }
                barrier.wait();
                for _ in 0..a.iters {
                    std::hint::black_box(pplcnet::classify_with(
                        std::hint::black_box(input),
                        &mut ws,
                    ));
                }
            });
        }
        barrier.wait();
        let t = Instant::now();
        // the scope joins every worker before returning
        t
    })
    .elapsed();
    let runs = threads as u64 * a.iters;
    let ips = runs as f64 / wall.as_secs_f64().max(1e-12);
    let latency_threads = pool.as_ref().map_or(1, |p| p.threads());
    // What handing one layer to the pool and waiting for it costs (an empty layer, median).
    let handoff = pool.as_ref().map(|pool| {
        let mut t = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            let start = Instant::now();
            pool.empty_layer();
            t.push(start.elapsed());
        }
        t.sort();
        percentile(&t, 50.0)
    });
    let handoff_json = handoff.map_or(String::new(), |h| {
        format!(", \"handoff_us\": {:.3}", h.as_secs_f64() * 1e6)
    });
    if a.json {
        println!(
            "{{\"model\": {}, \"iters\": {}, \"warmup\": {}, \"latency_ms\": {{\"min\": {:.4}, \"median\": {:.4}, \"p90\": {:.4}, \"p99\": {:.4}, \"mean\": {:.4}}}, \"latency_threads\": {latency_threads}{handoff_json}, \"threads\": {threads}, \"throughput_images_per_second\": {ips:.2}}}",
            report::json_str(MODEL.name),
            a.iters,
            a.warmup,
            ms(min),
            ms(med),
            ms(p90),
            ms(p99),
            ms(mean)
        );
    } else {
        println!("model: {} ({} MMACs)", MODEL.name, MODEL.macs / 1_000_000);
        println!(
            "latency, {}, {} runs after {} warm-up: min {:.3} ms, median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
            match latency_threads {
                1 if pool.is_none() => "1 thread".to_string(),
                n => format!("{n} thread(s) (Parallel)"),
            },
            a.iters,
            a.warmup,
            ms(min),
            ms(med),
            ms(p90),
            ms(p99),
            ms(mean)
        );
        if let Some(h) = handoff {
            println!(
                "handoff per split layer (an empty layer, median of 10000): {:.2} us",
                h.as_secs_f64() * 1e6
            );
        }
        println!(
            "throughput, {threads} thread(s) x {} runs: {ips:.1} images/s ({:.3} s)",
            a.iters,
            wall.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// preprocess

fn preprocess_cmd(a: PreprocessArgs) -> io::Result<ExitCode> {
    let mut buf = Box::new([0u8; INPUT_LEN]);
    if let Err(msg) = load_input(&a.image, &a.resize.config(), &mut buf) {
        eprintln!("pplcnet: {}: {msg}", a.image.display());
        return Ok(ExitCode::FAILURE);
    }
    if a.output.as_os_str() == "-" {
        let mut out = io::stdout().lock();
        out.write_all(&buf[..])?;
        out.flush()?;
    } else if let Err(e) = std::fs::write(&a.output, &buf[..]) {
        eprintln!("pplcnet: {}: {e}", a.output.display());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------------
// info

fn thousands(n: u64) -> String {
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
fn compiled_features() -> Vec<(&'static str, bool)> {
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
fn runtime_note() -> Option<String> {
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

fn info() -> io::Result<ExitCode> {
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
    let precision = match m.precision {
        pplcnet::Precision::F32 => "f32",
        pplcnet::Precision::Bf16 => "bf16 matrix products (f32 sums), f32 elsewhere",
    };
    writeln!(out, "precision:        {precision}")?;
    if m.layers.iter().any(|l| l.variant.ends_with("_amx")) {
        use pplcnet::kernels::amx;
        writeln!(
            out,
            "AMX tiles:        {} -> run on {:?}",
            amx::support(),
            amx::backend()
        )?;
    }
    let kind = match m.output {
        pplcnet::OutputKind::Probabilities => "probabilities (the graph ends in softmax)",
        pplcnet::OutputKind::Logits => "logits (no softmax in the graph)",
    };
    writeln!(out, "output:           {kind}")?;
    writeln!(out, "parameters:       {}", thousands(m.params))?;
    writeln!(out, "MACs per image:   {}", thousands(m.macs))?;
    writeln!(
        out,
        "input:            {INPUT_WIDTH}x{INPUT_HEIGHT}x3 u8 RGB, HWC ({INPUT_LEN} bytes)"
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
    writeln!(
        out,
        "preprocessing:    resize short side 256 (OpenCV INTER_LINEAR), center crop {INPUT_WIDTH}"
    )?;
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
