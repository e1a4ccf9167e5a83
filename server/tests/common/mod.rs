//! Shared by the server's tests: start the server binary on free loopback ports, talk HTTP/1.1
//! to it over plain TCP (so that tests can also misbehave on purpose), make test inputs.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pplcnet::{INPUT_LEN, NUM_CLASSES};

/// A running `pplcnet-server`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub rest: SocketAddr,
    pub grpc: SocketAddr,
}

impl Server {
    /// Starts the server with `args` on free ports and waits (at most 60 s) until it listens.
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pplcnet-server"))
            .args(["--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pplcnet-server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server did not start within 60 s");
        let field = |key: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {line:?}"))
                .parse()
                .unwrap()
        };
        Server {
            rest: field("rest="),
            grpc: field("grpc="),
            child,
        }
    }

    /// Resident memory of the server process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response: status, headers (lower-case names), body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends one request (`Connection: close`) and reads the whole response (60 s at most).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_response(&mut s)
}

/// Reads a response to the end of the connection.
pub fn read_response(s: &mut TcpStream) -> Resp {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

pub fn get(addr: SocketAddr, path: &str) -> Resp {
    http(addr, "GET", path, &[], b"")
}

/// `POST /v2/models/pplcnet/infer` of raw inputs with the binary tensor extension; binary output.
pub fn infer_raw(addr: SocketAddr, inputs: &[u8]) -> Resp {
    let n = inputs.len() / INPUT_LEN;
    let json = serde_json::json!({
        "inputs": [{"name": "image", "datatype": "UINT8",
                    "shape": [n, pplcnet::INPUT_HEIGHT, pplcnet::INPUT_WIDTH, 3],
                    "parameters": {"binary_data_size": inputs.len()}}],
        "outputs": [{"name": output_name(), "parameters": {"binary_data": true}}],
    })
    .to_string();
    let mut body = json.clone().into_bytes();
    body.extend_from_slice(inputs);
    http(
        addr,
        "POST",
        "/v2/models/pplcnet/infer",
        &[("Inference-Header-Content-Length", json.len().to_string())],
        &body,
    )
}

/// The FP32 output of a binary response.
pub fn binary_scores(r: &Resp) -> Vec<f32> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let n: usize = r
        .header("inference-header-content-length")
        .expect("binary response")
        .parse()
        .unwrap();
    r.body[n..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub fn output_name() -> &'static str {
    match pplcnet::MODEL.output {
        pplcnet::OutputKind::Logits => "logits",
        _ => "probabilities",
    }
}

/// A deterministic pseudo-random input (xorshift), different for each `seed`.
pub fn input(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..INPUT_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `classify` of each `INPUT_LEN` chunk, concatenated.
pub fn expected(inputs: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(inputs.len() / INPUT_LEN * NUM_CLASSES);
    for c in inputs.chunks_exact(INPUT_LEN) {
        out.extend_from_slice(&pplcnet::classify(c.try_into().unwrap()));
    }
    out
}

/// `f32`s compared by their bits.
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A PNG of a few hundred bytes that declares `width`x`height` 16-bit RGB: its pixels would need
/// `width * height * 6` bytes. The IDAT holds a valid zlib stream of a little data only.
pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[16, 2, 0, 0, 0]); // 16-bit, RGB, deflate, filter 0, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    // zlib header, one stored block of 256 zero bytes (a valid start of the first row).
    let mut idat = vec![0x78, 0x01, 0x01, 0x00, 0x01, 0xFF, 0xFE];
    idat.extend_from_slice(&[0u8; 256]);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Waits until `f` is true (polling), at most `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
