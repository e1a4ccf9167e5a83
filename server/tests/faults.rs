//! The server under misbehaving clients, on loopback with real timings: slow-drip clients,
//! decompression bombs, malformed requests, early disconnects, a full queue, SIGTERM.
//! The tests of this file run one at a time (they measure latencies).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One single-image inference, checked bit for bit; its latency.
fn timed_infer(addr: SocketAddr, x: &[u8], want: &[f32]) -> Duration {
    let t = Instant::now();
    let r = infer_raw(addr, x);
    let d = t.elapsed();
    assert!(same_bits(&binary_scores(&r), want));
    d
}

/// A client that sends `prefix`, then one byte of `drip` per second until dropped.
struct SlowClient {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowClient {
    fn start(addr: SocketAddr, prefix: Vec<u8>, drip: Vec<u8>) -> SlowClient {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let _ = s.write_all(&prefix);
            for b in drip {
                for _ in 0..10 {
                    if s2.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                if s.write_all(&[b]).is_err() {
                    return;
                }
            }
        });
        SlowClient {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SlowClient {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn slow_clients_do_not_delay_others() {
    let _g = serial();
    const WORKERS: usize = 2;
    let server = Server::start(&["--workers", "2", "--deadline-ms", "30000"]);
    let x = input(7);
    let want = expected(&x);
    timed_infer(server.rest, &x, &want); // warm-up
    let mut before: Vec<Duration> = (0..7)
        .map(|_| timed_infer(server.rest, &x, &want))
        .collect();
    // Twice as many slow clients as workers: half drip their headers, half their body.
    let head = b"POST /v2/models/pplcnet/infer HTTP/1.1\r\nHost: x\r\n".to_vec();
    let drip_head = b"Content-Length: 10\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n".to_vec();
    let body_head = b"POST /v2/models/pplcnet/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"inputs\"".to_vec();
    let drip_body = vec![b' '; 100];
    let slow: Vec<SlowClient> = (0..2 * WORKERS)
        .map(|i| {
            if i % 2 == 0 {
                SlowClient::start(server.rest, head.clone(), drip_head.clone())
            } else {
                SlowClient::start(server.rest, body_head.clone(), drip_body.clone())
            }
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500)); // they are connected and dripping
    let mut during: Vec<Duration> = (0..7)
        .map(|_| timed_infer(server.rest, &x, &want))
        .collect();
    let (b_max, d_max) = (*before.iter().max().unwrap(), *during.iter().max().unwrap());
    let (b_med, d_med) = (median(&mut before), median(&mut during));
    writeln!(
        std::io::stderr(),
        "slow clients: latency before median {b_med:?} max {b_max:?}, during median {d_med:?} max {d_max:?}"
    )
    .unwrap();
    let slack = Duration::from_millis(100);
    assert!(
        d_med <= b_med + slack,
        "median {d_med:?} vs {b_med:?} before"
    );
    // No request is delayed by more than its own latency plus 100 ms.
    assert!(
        d_max <= 2 * b_max + slack,
        "max {d_max:?} vs {b_max:?} before"
    );
    drop(slow);
}

#[test]
fn slow_clients_are_cut_at_the_deadline() {
    let _g = serial();
    let server = Server::start(&["--workers", "1", "--deadline-ms", "1000"]);
    // Body dripping: 408 in the protocol's error form once the deadline passes.
    let mut s = TcpStream::connect(server.rest).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    s.write_all(
        b"POST /v2/models/pplcnet/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{",
    )
    .unwrap();
    let r = read_response(&mut s);
    let took = t.elapsed();
    assert_eq!(r.status, 408);
    assert!(r.json()["error"].as_str().unwrap().contains("deadline"));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // Header dripping: the connection is closed once the header deadline passes.
    let mut s = TcpStream::connect(server.rest).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    s.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost")
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(4), "header drip held {took:?}");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    assert_eq!(get(server.rest, "/v2/health/ready").status, 200);
}

/// The HTTP/2 client preface and an empty SETTINGS frame: what a gRPC client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// Sends the preface on `s` and reads what the server sends back within `wait`: its SETTINGS
/// frame (9-byte header, type 4) when it serves the connection, nothing while it does not.
fn h2_answer(s: &mut TcpStream, wait: Duration) -> Vec<u8> {
    s.write_all(H2_PREFACE).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn grpc_connections_are_capped_and_silent_ones_cut_at_the_deadline() {
    let _g = serial();
    let server = Server::start(&[
        "--workers",
        "1",
        "--max-connections",
        "2",
        "--deadline-ms",
        "1500",
    ]);
    // Two connections that send nothing take both slots: a third is not served meanwhile (a
    // served connection gets the server's SETTINGS at once, before the client's preface).
    let silent: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.grpc).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let mut third = TcpStream::connect(server.grpc).unwrap();
    let early = h2_answer(&mut third, Duration::from_millis(700));
    assert!(early.is_empty(), "served beyond the cap: {early:?}");
    // The silent ones are closed once the deadline passes; then the third is served.
    let mut answer = Vec::new();
    let served = wait_until(Duration::from_secs(5), || {
        let mut buf = [0u8; 64];
        third
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if let Ok(n) = third.read(&mut buf) {
            answer.extend_from_slice(&buf[..n]);
        }
        answer.len() >= 9
    });
    let took = t.elapsed();
    assert!(served, "third connection never served ({took:?})");
    assert_eq!(answer[3], 4, "a SETTINGS frame first: {answer:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "served after {took:?}"
    );
    // The server spoke first (its SETTINGS), then closed them: the reads end, not time out.
    for mut s in silent {
        let mut buf = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let r = s.read_to_end(&mut buf);
        assert!(
            r.is_ok()
                || r.as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "silent connection still open: {r:?}"
        );
    }
    // REST is unaffected throughout.
    assert_eq!(get(server.rest, "/v2/health/ready").status, 200);
}

#[test]
fn decompression_bombs_are_refused_in_milliseconds_with_flat_memory() {
    let _g = serial();
    let server = Server::start(&["--workers", "2", "--max-pixels", "25000000"]);
    let x = input(3);
    let want = expected(&x);
    timed_infer(server.rest, &x, &want);
    let bombs = [
        bomb_png(10_000, 10_000), // 100 MP of 16-bit RGB: 600 MB if decoded
        std::fs::read(root().join("tests/data/preprocess/bomb_60000x60000.png")).unwrap(),
    ];
    let rss_before = server.rss_kib();
    let mut slowest = Duration::ZERO;
    for round in 0..20 {
        let bomb = &bombs[round % 2];
        let body = serde_json::json!({
            "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                        "data": [{"b64": base64::engine::general_purpose::STANDARD.encode(bomb)}]}]
        })
        .to_string();
        let t = Instant::now();
        let r = http(
            server.rest,
            "POST",
            "/v2/models/pplcnet/infer",
            &[],
            body.as_bytes(),
        );
        let took = t.elapsed();
        slowest = slowest.max(took);
        assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
        assert!(r.json()["error"].as_str().unwrap().contains("pixels"));
    }
    let rss_after = server.rss_kib();
    writeln!(
        std::io::stderr(),
        "bombs: slowest refusal {slowest:?}, RSS {rss_before} -> {rss_after} KiB"
    )
    .unwrap();
    assert!(slowest < Duration::from_millis(50), "{slowest:?}");
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS {rss_before} -> {rss_after} KiB"
    );
    // The same bomb with the binary extension.
    let bomb = &bombs[0];
    let json = serde_json::json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
        "parameters": {"binary_data_size": bomb.len() + 4}}]})
    .to_string();
    let mut body = json.clone().into_bytes();
    body.extend_from_slice(&(bomb.len() as u32).to_le_bytes());
    body.extend_from_slice(bomb);
    let r = http(
        server.rest,
        "POST",
        "/v2/models/pplcnet/infer",
        &[("Inference-Header-Content-Length", json.len().to_string())],
        &body,
    );
    assert_eq!(r.status, 413);
    timed_infer(server.rest, &x, &want);
}

/// Sends raw bytes, optionally closes the write side, returns what came back (maybe nothing).
fn raw_exchange(addr: SocketAddr, bytes: &[u8], shutdown_write: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(bytes);
    if shutdown_write {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn status_of(raw: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(raw);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[test]
fn malformed_requests_and_disconnects_leave_it_healthy() {
    let _g = serial();
    let server = Server::start(&["--workers", "2", "--deadline-ms", "5000"]);
    let a = server.rest;
    let x = input(11);
    let want = expected(&x);
    let infer = "POST /v2/models/pplcnet/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    // Not HTTP at all.
    let r = raw_exchange(a, b"\x00\x01\x02 garbage\r\n\r\n", true);
    assert!(
        r.is_empty() || status_of(&r) == Some(400),
        "{:?}",
        String::from_utf8_lossy(&r)
    );
    // Duplicate and signed Content-Length are refused by the HTTP parser.
    for cl in [
        "Content-Length: 2\r\nContent-Length: 3",
        "Content-Length: +2",
    ] {
        let r = raw_exchange(a, format!("{infer}{cl}\r\n\r\n{{}}").as_bytes(), true);
        assert!(
            r.is_empty() || status_of(&r) == Some(400),
            "{cl}: {:?}",
            String::from_utf8_lossy(&r)
        );
    }
    // Bad JSON, wrong JSON shape, binary header longer than the body: 400 with {"error"}.
    for (body, extra) in [
        ("{\"inputs\": [", ""),
        ("{\"inputs\": 5}", ""),
        ("[]", ""),
        ("{\"inputs\": []}", ""),
        ("{\"inputs\": [{\"name\":\"image\",\"datatype\":\"UINT8\",\"shape\":[1,224,224,3],\"data\":[1,2,3]}]}", ""),
        ("{}", "Inference-Header-Content-Length: 999\r\n"),
        ("{}", "Inference-Header-Content-Length: -1\r\n"),
    ] {
        let req = format!("{infer}{extra}Content-Length: {}\r\n\r\n{body}", body.len());
        let r = parse_response(&raw_exchange(a, req.as_bytes(), false));
        assert_eq!(r.status, 400, "{body}");
        assert!(r.json()["error"].is_string(), "{body}");
    }
    // Too large by Content-Length: 413 after the body was read and discarded, so the client
    // gets the answer rather than a reset.
    let big = vec![b' '; 33 << 20];
    let r = http(a, "POST", "/v2/models/pplcnet/infer", &[], &big);
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("limit"));
    // Early disconnects: mid-headers, mid-body, and while the inference is queued.
    raw_exchange(
        a,
        b"POST /v2/models/pplcnet/infer HTTP/1.1\r\nHost: x\r\nContent-Le",
        true,
    );
    raw_exchange(
        a,
        format!("{infer}Content-Length: 5000\r\n\r\n{{\"inp").as_bytes(),
        true,
    );
    for _ in 0..4 {
        let batch: Vec<u8> = (0..8).flat_map(|i| input(100 + i)).collect();
        let json = serde_json::json!({"inputs": [{"name": "image", "datatype": "UINT8",
            "shape": [8, 224, 224, 3], "parameters": {"binary_data_size": batch.len()}}]})
        .to_string();
        let mut s = TcpStream::connect(a).unwrap();
        let head = format!(
            "{infer}Inference-Header-Content-Length: {}\r\nContent-Length: {}\r\n\r\n",
            json.len(),
            json.len() + batch.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(json.as_bytes()).unwrap();
        s.write_all(&batch).unwrap();
        drop(s); // gone before the answer
    }
    // Pipelined requests on one connection are all answered, in order.
    let two = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/models/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let r = String::from_utf8(raw_exchange(a, two.as_bytes(), false)).unwrap();
    let first = r.find("HTTP/1.1 200").expect("first answer");
    let second = r.find("HTTP/1.1 404").expect("second answer");
    assert!(first < second);
    // Still healthy: ready, every worker alive, exact answers.
    assert_eq!(get(a, "/v2/health/ready").status, 200);
    assert!(same_bits(&binary_scores(&infer_raw(a, &x)), &want));
    let metrics = String::from_utf8(get(a, "/metrics").body).unwrap();
    assert!(metrics.contains("pplcnet_workers_alive 2"), "{metrics}");
}

#[test]
fn full_queue_answers_503_at_once() {
    let _g = serial();
    // One worker, one queue slot: of 6 simultaneous 12-image requests, at most 2 are taken.
    let server = Server::start(&[
        "--workers",
        "1",
        "--queue-depth",
        "1",
        "--deadline-ms",
        "30000",
    ]);
    let batch: Vec<u8> = (0..12).flat_map(|i| input(200 + i)).collect();
    let want = expected(&batch);
    let results: Vec<(u16, Duration, Resp)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let t = Instant::now();
                    let r = infer_raw(server.rest, &batch);
                    (r.status, t.elapsed(), r)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<_> = results.iter().filter(|r| r.0 == 200).collect();
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert_eq!(
        ok.len() + refused.len(),
        6,
        "statuses {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert!(
        !ok.is_empty() && refused.len() >= 3,
        "{} ok, {} refused",
        ok.len(),
        refused.len()
    );
    let first_ok = ok.iter().map(|r| r.1).min().unwrap();
    for r in &refused {
        assert!(r.2.json()["error"]
            .as_str()
            .unwrap()
            .contains("queue is full"));
        // Refused at once: well before even the first accepted request finished.
        assert!(
            r.1 < first_ok,
            "503 after {:?}, first 200 after {first_ok:?}",
            r.1
        );
    }
    for r in &ok {
        assert!(same_bits(&binary_scores(&r.2), &want));
    }
    let metrics = String::from_utf8(get(server.rest, "/metrics").body).unwrap();
    assert!(
        metrics.contains(&format!("pplcnet_queue_full_total {}", refused.len())),
        "{metrics}"
    );
    assert!(metrics.contains("code=\"503\""), "{metrics}");
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits() {
    let _g = serial();
    let mut server = Server::start(&["--workers", "1"]);
    let addr = server.rest;
    let batch: Vec<u8> = (0..10).flat_map(|i| input(300 + i)).collect();
    let want = expected(&batch);
    let inflight = std::thread::spawn(move || infer_raw(addr, &batch));
    // Wait until the request is being computed.
    assert!(wait_until(Duration::from_secs(10), || {
        String::from_utf8(get(addr, "/metrics").body)
            .unwrap()
            .contains("pplcnet_workers_busy 1")
    }));
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let r = inflight.join().unwrap();
    assert!(
        same_bits(&binary_scores(&r), &want),
        "in-flight request answered in full"
    );
    let exited = wait_until(Duration::from_secs(15), || {
        server.child.try_wait().unwrap().is_some()
    });
    assert!(exited, "still running 15 s after SIGTERM");
    assert!(server.child.wait().unwrap().success());
    assert!(
        TcpStream::connect(addr).is_err(),
        "new connections are refused"
    );
}
