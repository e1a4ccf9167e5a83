//! `examples/server.rs`, run in this process on loopback, under load: `CLIENTS` threads send requests
//! for `LOAD` (bounded time), each answer must be exactly (class ids and `f32` bits of the scores)
//! what a single-threaded `pplcnet::classify` gives for that input, and the process's resident memory
//! must not grow between the end of warm-up and the end of the load. Also: error statuses for bad
//! requests, and an image upload (feature `image`).
#![cfg(feature = "std")]

#[path = "../examples/server.rs"]
#[allow(dead_code)] // the example's `main`
mod server;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use pplcnet::{INPUT_LEN, NUM_CLASSES};

const WORKERS: usize = 3;
const CLIENTS: usize = 8;
const WARMUP: Duration = Duration::from_millis(1500);
const LOAD: Duration = Duration::from_secs(4);
/// Allowed growth of VmRSS over the load phase. A per-request leak of one input (147 KiB) would
/// exceed it after ~60 requests; the phase serves hundreds.
const MAX_RSS_GROWTH_KIB: u64 = 8 * 1024;

/// An input and its expected top-5 as `(class id, score bits)`.
type Case = (Vec<u8>, Vec<(usize, u32)>);

/// One HTTP/1.1 request, read to the end of the connection: (status code, body).
fn request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read response");
    let text = String::from_utf8(resp).expect("utf-8 response");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {text:?}"));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status in {head:?}"));
    (code, body.to_string())
}

fn post(addr: SocketAddr, content_type: &str, body: &[u8]) -> (u16, String) {
    let head = format!("POST /classify HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n", body.len());
    request(addr, &head, body)
}

/// `(class id, score bits)` of each entry of `{"top5":[{"class_id":..,"score":..,..},..]}`.
fn parse_top5(json: &str) -> Vec<(usize, u32)> {
    let field = |rest: &str, key: &str| -> String {
        let at = rest.find(key).unwrap_or_else(|| panic!("{key} in {json}")) + key.len();
        rest[at..]
            .chars()
            .take_while(|c| !matches!(c, ',' | '}'))
            .collect()
    };
    json.split("{\"class_id\":")
        .skip(1)
        .map(|entry| {
            let id: String = entry.chars().take_while(char::is_ascii_digit).collect();
            let id = id.parse().unwrap_or_else(|_| panic!("class id in {json}"));
            let score: f32 = field(entry, "\"score\":")
                .parse()
                .unwrap_or_else(|_| panic!("score in {json}"));
            (id, score.to_bits())
        })
        .collect()
}

fn expected_top5(scores: &[f32; NUM_CLASSES]) -> Vec<(usize, u32)> {
    pplcnet::top_k::<5>(scores)
        .iter()
        .map(|&(i, s)| (i, s.to_bits()))
        .collect()
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value")
}

/// Runs `CLIENTS` threads until `deadline`, client `c` cycling through the inputs from offset `c`.
/// Returns the number of answers, all checked.
fn load(addr: SocketAddr, inputs: &[Case], deadline: Instant) -> usize {
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                s.spawn(move || {
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let (input, want) = &inputs[(c + n) % inputs.len()];
                        let (code, body) = post(addr, "application/octet-stream", input);
                        assert_eq!(code, 200, "client {c}: {body}");
                        assert_eq!(
                            &parse_top5(&body),
                            want,
                            "client {c}, input {}: {body}",
                            (c + n) % inputs.len()
                        );
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .sum()
    })
}

#[test]
fn concurrent_clients_get_exact_answers_and_memory_stays_flat() {
    // Inputs: the five reference images and three synthetic ones, with their single-threaded answers.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/inputs");
    let mut raw: Vec<Vec<u8>> = ["black", "checker", "gradient", "noise", "white"]
        .iter()
        .map(|n| std::fs::read(dir.join(format!("{n}.u8"))).expect("reference input"))
        .collect();
    for seed in 1..=3u32 {
        raw.push(
            (0..INPUT_LEN as u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 7919) >> 13) as u8)
                .collect(),
        );
    }
    let inputs: Vec<Case> = raw
        .into_iter()
        .map(|bytes| {
            let want = expected_top5(&pplcnet::classify(
                bytes.as_slice().try_into().expect("input size"),
            ));
            (bytes, want)
        })
        .collect();

    let srv = server::start(
        TcpListener::bind("127.0.0.1:0").expect("bind loopback"),
        WORKERS,
    )
    .expect("start server");
    let addr = srv.addr();

    // Error paths (and the routes that are not /classify).
    let (code, _) = request(addr, "GET /health HTTP/1.1\r\n\r\n", b"");
    assert_eq!(code, 200);
    let (code, body) = post(
        addr,
        "application/octet-stream",
        &inputs[0].0[..INPUT_LEN - 1],
    );
    assert_eq!(
        code,
        if cfg!(feature = "image") { 422 } else { 400 },
        "short raw body: {body}"
    );
    let (code, _) = request(addr, "GET /classify HTTP/1.1\r\n\r\n", b"");
    assert_eq!(code, 405);
    let (code, _) = request(
        addr,
        "POST /nowhere HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        b"",
    );
    assert_eq!(code, 404);
    let (code, _) = request(addr, "POST /classify HTTP/1.1\r\n\r\n", b"");
    assert_eq!(code, 411);
    let (code, _) = request(
        addr,
        "POST /classify HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n",
        b"",
    );
    assert_eq!(code, 413);
    let (code, _) = request(
        addr,
        "POST /classify HTTP/1.1\r\nContent-Length: nine\r\n\r\n",
        b"",
    );
    assert_eq!(code, 400);
    // A client that sends half a body and hangs up: the worker survives.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        format!("POST /classify HTTP/1.1\r\nContent-Length: {INPUT_LEN}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    s.write_all(&inputs[0].0[..1000]).unwrap();
    drop(s);

    #[cfg(feature = "image")]
    {
        let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("model_assets/chelsea.png");
        let img = pplcnet::preprocess::preprocess_path(
            &png,
            &pplcnet::predict::model_preprocess_config(),
        )
        .expect("preprocess");
        let want = expected_top5(&pplcnet::classify(
            img.as_slice().try_into().expect("input size"),
        ));
        let (code, body) = post(addr, "image/png", &std::fs::read(&png).unwrap());
        assert_eq!(code, 200, "{body}");
        assert_eq!(parse_top5(&body), want, "{body}");
        let (code, body) = post(addr, "image/png", b"not a png");
        assert_eq!(code, 422, "{body}");
    }

    let warm = load(addr, &inputs, Instant::now() + WARMUP);
    let rss_before = vm_rss_kib();
    let start = Instant::now();
    let answered = load(addr, &inputs, start + LOAD);
    let secs = start.elapsed().as_secs_f64();
    let rss_after = vm_rss_kib();
    let served = srv.served();
    srv.shutdown();

    eprintln!(
        "{WORKERS} workers, {CLIENTS} clients: warm-up {warm} requests; load {answered} requests in {secs:.1} s ({:.0}/s), \
         all exact; VmRSS {rss_before} -> {rss_after} KiB; server answered {served} in total",
        answered as f64 / secs
    );
    assert!(
        answered >= 2 * CLIENTS,
        "only {answered} answers in {secs:.1} s"
    );
    assert!(
        rss_after <= rss_before + MAX_RSS_GROWTH_KIB,
        "VmRSS grew from {rss_before} to {rss_after} KiB over {answered} requests"
    );
}
