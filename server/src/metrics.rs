//! Prometheus counters, gauges and the latency histogram, rendered as text for `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96,
];

/// One latency histogram (cumulative on output, per-bucket counts inside).
#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros().min(u64::MAX as u128) as u64, Relaxed);
    }
}

/// The server's metrics. Every method is cheap and lock-free except the per-status counters
/// (a small map behind a mutex, bounded by the number of distinct status codes).
#[derive(Default)]
pub struct Metrics {
    /// Requests answered, by (protocol, status code).
    requests: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Inference latency (request start to answer), by protocol.
    latency_http: Histogram,
    latency_grpc: Histogram,
    /// Images classified.
    pub images: AtomicU64,
    /// Requests refused because the queue was full.
    pub queue_full: AtomicU64,
    /// Jobs the workers skipped because their client left or their deadline passed.
    pub jobs_skipped: AtomicU64,
    /// Jobs waiting in the queue.
    pub queue_depth: AtomicU64,
    /// The queue's capacity.
    pub queue_capacity: AtomicU64,
    /// Worker threads running.
    pub workers_alive: AtomicU64,
    /// Workers computing right now.
    pub workers_busy: AtomicU64,
    /// Open REST connections.
    pub connections: AtomicU64,
}

impl Metrics {
    /// Counts one answered request; `error` when it was not a success.
    pub fn request(&self, protocol: &'static str, code: &str) {
        let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((protocol, code.to_owned())).or_insert(0) += 1;
    }

    /// Records the latency of one inference request.
    pub fn infer_latency(&self, protocol: &'static str, d: Duration) {
        match protocol {
            "grpc" => self.latency_grpc.observe(d),
            _ => self.latency_http.observe(d),
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(4096);
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        s.push_str(
            "# HELP pplcnet_requests_total Requests answered, by protocol and status code.\n",
        );
        s.push_str("# TYPE pplcnet_requests_total counter\n");
        for ((proto, code), n) in &requests {
            let _ = writeln!(
                s,
                "pplcnet_requests_total{{protocol=\"{proto}\",code=\"{code}\"}} {n}"
            );
        }
        s.push_str(
            "# HELP pplcnet_request_errors_total Requests answered with an error, by protocol.\n",
        );
        s.push_str("# TYPE pplcnet_request_errors_total counter\n");
        for proto in ["http", "grpc"] {
            let errors: u64 = requests
                .iter()
                .filter(|((p, code), _)| *p == proto && !is_success(code))
                .map(|(_, n)| n)
                .sum();
            let _ = writeln!(
                s,
                "pplcnet_request_errors_total{{protocol=\"{proto}\"}} {errors}"
            );
        }
        s.push_str("# HELP pplcnet_infer_duration_seconds Inference request latency, from the request to the answer.\n");
        s.push_str("# TYPE pplcnet_infer_duration_seconds histogram\n");
        for (proto, h) in [("http", &self.latency_http), ("grpc", &self.latency_grpc)] {
            let mut cum = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cum += h.counts[i].load(Relaxed);
                let _ = writeln!(
                    s,
                    "pplcnet_infer_duration_seconds_bucket{{protocol=\"{proto}\",le=\"{b}\"}} {cum}"
                );
            }
            cum += h.counts[BUCKETS.len()].load(Relaxed);
            let _ = writeln!(
                s,
                "pplcnet_infer_duration_seconds_bucket{{protocol=\"{proto}\",le=\"+Inf\"}} {cum}"
            );
            let sum = h.sum_micros.load(Relaxed) as f64 / 1e6;
            let _ = writeln!(
                s,
                "pplcnet_infer_duration_seconds_sum{{protocol=\"{proto}\"}} {sum}"
            );
            let _ = writeln!(
                s,
                "pplcnet_infer_duration_seconds_count{{protocol=\"{proto}\"}} {cum}"
            );
        }
        for (name, kind, help, v) in [
            (
                "pplcnet_images_total",
                "counter",
                "Images classified.",
                &self.images,
            ),
            (
                "pplcnet_queue_full_total",
                "counter",
                "Requests refused at once because the queue was full.",
                &self.queue_full,
            ),
            (
                "pplcnet_jobs_skipped_total",
                "counter",
                "Queued jobs dropped because their client left or their deadline passed.",
                &self.jobs_skipped,
            ),
            (
                "pplcnet_queue_depth",
                "gauge",
                "Jobs waiting for a worker.",
                &self.queue_depth,
            ),
            (
                "pplcnet_queue_capacity",
                "gauge",
                "The most jobs that may wait.",
                &self.queue_capacity,
            ),
            (
                "pplcnet_workers_alive",
                "gauge",
                "Worker threads running.",
                &self.workers_alive,
            ),
            (
                "pplcnet_workers_busy",
                "gauge",
                "Workers computing now.",
                &self.workers_busy,
            ),
            (
                "pplcnet_http_connections",
                "gauge",
                "Open REST connections.",
                &self.connections,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Relaxed)
            );
        }
        s
    }
}

/// HTTP 2xx, or gRPC OK.
fn is_success(code: &str) -> bool {
    code.starts_with('2') || code == "OK"
}
