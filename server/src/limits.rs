//! Command-line options and the limits every request is held to.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// KServe v2 / Triton inference protocol server for the embedded pplcnet classifier:
/// REST (JSON and binary tensors) and gRPC (`inference.GRPCInferenceService`).
#[derive(Parser, Debug, Clone)]
#[command(name = "pplcnet-server", version, about)]
pub struct Options {
    /// REST address (port 0: any free port; the chosen addresses are printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// gRPC address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8001")]
    pub grpc_listen: SocketAddr,
    /// Worker threads, each with its own workspace; default: all cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,
    /// The model's name in URLs and requests.
    #[arg(long, value_name = "NAME", default_value = "pplcnet")]
    pub model_name: String,
    /// Inference requests that may wait for a worker; when full, requests are refused at once
    /// (HTTP 503, gRPC UNAVAILABLE).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub queue_depth: u32,
    /// Largest request body (REST) or message (gRPC), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 32 << 20)]
    pub max_body_bytes: usize,
    /// Largest encoded image, in pixels (width x height), checked from its header before decoding.
    #[arg(long, value_name = "PIXELS", default_value_t = 25_000_000, value_parser = clap::value_parser!(u64).range(1..=pplcnet::preprocess::MAX_PIXELS))]
    pub max_pixels: u64,
    /// Most images in one request.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_batch: u32,
    /// Deadline of a request in milliseconds: for its headers, and again for its body, queueing
    /// and computation (a gRPC client's shorter `grpc-timeout` wins).
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub deadline_ms: u64,
    /// Most open connections per protocol (REST, gRPC); more wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// On SIGTERM or Ctrl-C, how long in-flight requests may take to finish, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub shutdown_grace_ms: u64,
}

/// The limits a request is checked against, from [`Options`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// The served model's name.
    pub model_name: String,
    /// Largest body or message.
    pub max_body_bytes: usize,
    /// Largest encoded image in pixels.
    pub max_pixels: u64,
    /// Most images per request.
    pub max_batch: usize,
    /// Per-request deadline.
    pub deadline: Duration,
}

impl Options {
    /// The worker count (default: the cores available).
    pub fn worker_count(&self) -> usize {
        match self.workers {
            Some(n) => n as usize,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }

    /// The request limits.
    pub fn limits(&self) -> Limits {
        Limits {
            model_name: self.model_name.clone(),
            max_body_bytes: self.max_body_bytes,
            max_pixels: self.max_pixels,
            max_batch: self.max_batch as usize,
            deadline: Duration::from_millis(self.deadline_ms),
        }
    }
}
