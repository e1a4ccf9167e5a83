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

mod bench;
mod eval;
mod info;
mod input;
mod predict;

use input::*;
use pplcnet::preprocess::{self, Pipeline, PreprocessError};
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
    /// Write the exact input bytes (INPUT_HEIGHT x INPUT_WIDTH x 3) `classify` sees for an image.
    Preprocess(PreprocessArgs),
    /// Describe the embedded model, its kernel plan and the CPU features this binary was built for.
    Info,
}

#[derive(Args, Clone, Copy)]
struct ResizeOpts {
    /// Resize the short side to this many pixels, then center crop (PaddleClas resize_short);
    /// default: the model's own preprocessing (its inference.yml, else short side 256).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65535))]
    resize_short: Option<u32>,
    /// Accept images smaller than the crop by upscaling them (PaddleClas always does).
    #[arg(long)]
    allow_upscale: bool,
}

impl ResizeOpts {
    /// The model's preprocessing ([`Pipeline::MODEL`]), with `--resize-short` and
    /// `--allow-upscale` applied.
    fn config(&self) -> Pipeline {
        let mut p = Pipeline {
            allow_upscale: self.allow_upscale,
            ..Pipeline::MODEL
        };
        if let Some(short) = self.resize_short {
            p.preprocessing.resize = pplcnet::Resize::ShortSideCrop { short };
        }
        p
    }
}

#[derive(Args)]
struct PredictArgs {
    /// Image files, directories (searched recursively for .jpg .jpeg .png .bmp .JPG .JPEG, sorted),
    /// or .rgb files of exactly INPUT_LEN bytes (HWC, the model's channel order) that go straight
    /// to the model. Images get the model's own preprocessing (`pplcnet info` shows it).
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
    /// Multi-label models (MODEL.output = MultiLabel): report every class scoring at least this,
    /// best first (PaddleClas's MultiLabelThreshOutput), instead of the top K; default: the
    /// model's (its inference.yml's, else 0.5).
    #[arg(long)]
    threshold: Option<f32>,
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
        Command::Predict(a) => predict::predict(a),
        Command::Eval(a) => eval::eval(a),
        Command::Bench(a) => bench::bench(a),
        Command::Preprocess(a) => predict::preprocess_cmd(a),
        Command::Info => info::info(),
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
