//! Load measurement for `pplcnet-server`: starts the release binary on free loopback ports, sends
//! `--requests` single-image REST inference requests (binary tensor extension, keep-alive) from
//! `--clients` concurrent clients, checks every answer bit for bit against `classify`, and prints
//! the latency percentiles, throughput, the server's resident memory before and after, and its
//! worker and error counters from `/metrics`.
//!
//! ```sh
//! cargo build --release -p pplcnet-server
//! cargo run --release -p pplcnet-server --example load -- --requests 10000 --clients 4 --workers 2
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pplcnet::{INPUT_HEIGHT, INPUT_LEN, INPUT_WIDTH};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/examples/load -> target/release/pplcnet-server
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("pplcnet-server")
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// One keep-alive connection sending requests in turn.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// Sends one request, returns (status, body).
    fn request(&mut self, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0u8; len];
        self.reader.read_exact(&mut body).unwrap();
        (status, body)
    }
}

/// Kills the server when the measurement ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let requests = arg("--requests", 10_000);
    let clients = arg("--clients", 4);
    let workers = arg("--workers", 2);
    let mut child = Command::new(server_binary())
        .args(["--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
        .args(["--workers", &workers.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start target/release/pplcnet-server (cargo build --release -p pplcnet-server)");
    let stdout = child.stdout.take().unwrap();
    let child = Kill(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("rest="))
        .expect("rest= in the server's first line")
        .parse()
        .unwrap();

    // A few distinct inputs and their expected outputs.
    let inputs: Vec<Vec<u8>> = (0..8u64)
        .map(|seed| {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            (0..INPUT_LEN)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect()
        })
        .collect();
    let expected: Vec<Vec<u8>> = inputs
        .iter()
        .map(|x| {
            pplcnet::classify(x.as_slice().try_into().unwrap())
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect()
        })
        .collect();
    let json = serde_json::json!({
        "inputs": [{"name": "image", "datatype": "UINT8", "shape": [1, INPUT_HEIGHT, INPUT_WIDTH, 3],
                    "parameters": {"binary_data_size": INPUT_LEN}}],
        "parameters": {"binary_data_output": true},
    })
    .to_string();
    let head = format!(
        "POST /v2/models/pplcnet/infer HTTP/1.1\r\nHost: load\r\nInference-Header-Content-Length: {}\r\nContent-Length: {}\r\n\r\n",
        json.len(),
        json.len() + INPUT_LEN
    );
    let bodies: Vec<Vec<u8>> = inputs
        .iter()
        .map(|x| [json.as_bytes(), x].concat())
        .collect();

    // Warm-up (every worker's first call), then the measurement.
    let mut warm = Conn::new(addr);
    for i in 0..4 * workers {
        warm.request(&head, &bodies[i % bodies.len()]);
    }
    let rss_before = rss_kib(child.0.id());
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let results: Vec<(Vec<Duration>, usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = Conn::new(addr);
                    let (mut lat, mut wrong, mut failed) = (Vec::new(), 0, 0);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= requests {
                            break;
                        }
                        let k = i % bodies.len();
                        let t = Instant::now();
                        let (status, body) = conn.request(&head, &bodies[k]);
                        lat.push(t.elapsed());
                        if status != 200 {
                            failed += 1;
                        } else if !body.ends_with(&expected[k]) {
                            wrong += 1;
                        }
                    }
                    (lat, wrong, failed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = start.elapsed();
    let rss_after = rss_kib(child.0.id());
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    let wrong: usize = results.iter().map(|r| r.1).sum();
    let failed: usize = results.iter().map(|r| r.2).sum();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let (status, metrics) =
        Conn::new(addr).request("GET /metrics HTTP/1.1\r\nHost: load\r\n\r\n", b"");
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    let metric = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.to_string())
            .unwrap_or_default()
    };
    println!(
        "requests {} from {clients} clients, {workers} workers",
        lat.len()
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.90).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "throughput {:.1} requests/s over {:.2} s",
        lat.len() as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
    println!("answers: {failed} not 200, {wrong} wrong (bits differ from classify)");
    println!("server RSS KiB: before {rss_before}, after {rss_after}");
    println!("{}", metric("pplcnet_workers_alive"));
    println!(
        "{}",
        metric("pplcnet_request_errors_total{protocol=\"http\"}")
    );
    println!("{}", metric("pplcnet_images_total"));
    drop(child);
    if failed > 0 || wrong > 0 || lat.len() != requests {
        std::process::exit(1);
    }
}
