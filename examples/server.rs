//! A minimal HTTP classification server on `std` alone: a `TcpListener` shared by a fixed pool of
//! worker threads, each with its own workspace, body buffer and response buffer made once at start.
//! Answering a raw-RGB request allocates nothing on the heap (the socket aside).
//!
//! ```sh
//! cargo run --release --example server -- 127.0.0.1:8080 2      # address, worker threads
//! curl --data-binary @tests/data/inputs/noise.u8 http://127.0.0.1:8080/classify
//! curl -H 'Content-Type: image/png' --data-binary @model_assets/chelsea.png http://127.0.0.1:8080/classify
//! ```
//!
//! `POST /classify` takes either the raw model input (`pplcnet::INPUT_LEN` = 150528 bytes of
//! 224x224 RGB, HWC) or, with the `image` feature (default), an image file (any `Content-Type:
//! image/...`, or any body of another length), resized and cropped like PaddleClas. It answers
//! `{"top5":[{"class_id":N,"score":S,"label":"..."},...]}` (best first; scores print as the shortest
//! decimal that parses back to the same `f32`). `GET /health` answers `ok`. One request per
//! connection (`Connection: close`), bodies up to 16 MiB, 10 s socket timeouts.
//!
//! `tests/server_load.rs` runs this file in-process (`start`) under concurrent load.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use pplcnet::{Workspace, INPUT_LEN, LABELS, NUM_CLASSES};

/// Largest request body accepted (an image file; the raw input is 150528 bytes).
pub const MAX_BODY: usize = 16 << 20;
/// Largest request head (request line + headers).
const MAX_HEAD: usize = 8 << 10;
const TIMEOUT: Duration = Duration::from_secs(10);

/// A running server: its address, its workers, and a stop flag.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far (any status).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets each worker finish its current request, and joins the workers.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        // Each worker is blocked in `accept`: one connection wakes one worker, which sees the flag.
        for _ in &self.workers {
            let _ = TcpStream::connect_timeout(&wake, TIMEOUT);
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// Starts `workers` threads serving on `listener` (each with its own boxed workspace, made here).
pub fn start(listener: TcpListener, workers: usize) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::with_capacity(workers);
    for i in 0..workers.max(1) {
        let listener = listener.try_clone()?;
        let (stop, served) = (stop.clone(), served.clone());
        let mut worker = Worker::new();
        let handle = std::thread::Builder::new()
            .name(format!("classify-{i}"))
            .spawn(move || loop {
                let conn = listener.accept();
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                // A failed accept (e.g. the client went away) or a broken connection only ends that connection.
                if let Ok((stream, _)) = conn {
                    if worker.serve(stream).is_ok() {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })?;
        handles.push(handle);
    }
    Ok(Server {
        addr,
        stop,
        served,
        workers: handles,
    })
}

/// What one worker thread owns: everything a request needs, allocated once.
struct Worker {
    ws: Box<Workspace>,
    /// The model input when the body is an image file (decoded and preprocessed into it).
    #[cfg(feature = "image")]
    input: Box<[u8; INPUT_LEN]>,
    head: Box<[u8; MAX_HEAD]>,
    body: Vec<u8>,
    response: String,
    /// Status line, headers and `response`, sent with one write.
    out: Vec<u8>,
}

/// An answer other than 200: status line and message.
struct Reject(&'static str, String);

impl Worker {
    fn new() -> Self {
        Worker {
            ws: Workspace::new_boxed(),
            #[cfg(feature = "image")]
            input: Box::new([0; INPUT_LEN]),
            head: Box::new([0; MAX_HEAD]),
            body: Vec::with_capacity(INPUT_LEN),
            response: String::with_capacity(4096),
            out: Vec::with_capacity(8192),
        }
    }

    fn serve(&mut self, mut stream: TcpStream) -> io::Result<()> {
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        self.response.clear();
        let (status, content_type) = match self.handle(&mut stream) {
            Ok(ct) => ("200 OK", ct),
            Err(Reject(status, msg)) => {
                self.response.clear();
                self.response.push_str("{\"error\":");
                push_json_string(&mut self.response, &msg);
                self.response.push('}');
                (status, "application/json")
            }
        };
        self.out.clear();
        write!(
            self.out,
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.response.len()
        )?;
        self.out.extend_from_slice(self.response.as_bytes());
        stream.write_all(&self.out)?;
        stream.flush()
    }

    /// Reads and answers one request; on success the body is in `self.response`.
    fn handle(&mut self, stream: &mut TcpStream) -> Result<&'static str, Reject> {
        let bad = |msg: &str| Reject("400 Bad Request", msg.to_string());
        // Read until the end of the head; bytes after it are the start of the body.
        let mut filled = 0;
        let head_len = loop {
            if let Some(p) = self.head[..filled]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break p + 4;
            }
            if filled == MAX_HEAD {
                return Err(Reject(
                    "431 Request Header Fields Too Large",
                    "request head over 8 KiB".into(),
                ));
            }
            match stream.read(&mut self.head[filled..]) {
                Ok(0) => return Err(bad("connection closed before the end of the request head")),
                Ok(n) => filled += n,
                Err(e) => return Err(bad(&format!("reading the request: {e}"))),
            }
        };
        let head = std::str::from_utf8(&self.head[..head_len])
            .map_err(|_| bad("request head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let mut request = lines.next().unwrap_or("").split(' ');
        let (method, path) = (request.next().unwrap_or(""), request.next().unwrap_or(""));
        let (mut length, mut is_image, mut expect_continue) = (None, false, false);
        for line in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err(bad("malformed header line"));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| bad("bad Content-Length"))?,
                );
            } else if name.eq_ignore_ascii_case("content-type") {
                is_image = value.to_ascii_lowercase().starts_with("image/");
            } else if name.eq_ignore_ascii_case("expect") {
                expect_continue = value.eq_ignore_ascii_case("100-continue");
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(Reject(
                    "411 Length Required",
                    "send a Content-Length, not chunked".into(),
                ));
            }
        }
        match (method, path) {
            ("GET", "/health") => {
                self.response.push_str("ok\n");
                return Ok("text/plain");
            }
            ("POST", "/classify") => {}
            (_, "/classify") => return Err(Reject("405 Method Not Allowed", "use POST".into())),
            _ => return Err(Reject("404 Not Found", format!("no route {path}"))),
        }
        let length = length
            .ok_or_else(|| Reject("411 Length Required", "Content-Length is required".into()))?;
        if length > MAX_BODY {
            return Err(Reject(
                "413 Content Too Large",
                format!("body over {MAX_BODY} bytes"),
            ));
        }
        if expect_continue {
            let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        // The body: what came with the head, then the rest (the buffer keeps its capacity).
        self.body.clear();
        self.body
            .extend_from_slice(&self.head[head_len..filled.min(head_len + length)]);
        let rest = length - self.body.len();
        Read::take(&mut *stream, rest as u64)
            .read_to_end(&mut self.body)
            .map_err(|e| bad(&format!("reading the body: {e}")))?;
        if self.body.len() != length {
            return Err(bad(&format!(
                "body ended after {} of {length} bytes",
                self.body.len()
            )));
        }

        let scores = if !is_image && length == INPUT_LEN {
            let input: &[u8; INPUT_LEN] = self.body.as_slice().try_into().expect("length checked");
            pplcnet::classify_with(input, &mut self.ws)
        } else {
            self.classify_image()?
        };
        let top = pplcnet::top_k::<5>(&scores);
        self.response.push_str("{\"top5\":[");
        for (rank, &(class, score)) in top.iter().enumerate().filter(|(_, t)| t.0 < NUM_CLASSES) {
            use std::fmt::Write as _;
            let sep = if rank > 0 { "," } else { "" };
            let _ = write!(self.response, "{sep}{{\"class_id\":{class},\"score\":");
            if score.is_finite() {
                let _ = write!(self.response, "{score}");
            } else {
                self.response.push_str("null");
            }
            self.response.push_str(",\"label\":");
            push_json_string(&mut self.response, LABELS[class]);
            self.response.push('}');
        }
        self.response.push_str("]}\n");
        Ok("application/json")
    }

    #[cfg(feature = "image")]
    fn classify_image(&mut self) -> Result<[f32; NUM_CLASSES], Reject> {
        let unprocessable =
            |e: &dyn std::fmt::Display| Reject("422 Unprocessable Content", format!("image: {e}"));
        let img = pplcnet::preprocess::decode_image(&self.body).map_err(|e| unprocessable(&e))?;
        let cfg = pplcnet::predict::model_preprocess_config();
        pplcnet::preprocess::preprocess_into(&img, &cfg, &mut self.input[..])
            .map_err(|e| unprocessable(&e))?;
        Ok(pplcnet::classify_with(&self.input, &mut self.ws))
    }

    #[cfg(not(feature = "image"))]
    fn classify_image(&mut self) -> Result<[f32; NUM_CLASSES], Reject> {
        Err(Reject(
            "400 Bad Request",
            format!("expected {INPUT_LEN} bytes of raw RGB, got {} (image files need the `image` feature)", self.body.len()),
        ))
    }
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let workers = match args.next() {
        Some(n) => n.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("workers: {n:?} is not a number"),
            )
        })?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let server = start(TcpListener::bind(&addr)?, workers)?;
    eprintln!(
        "pplcnet server on http://{} with {workers} workers: POST /classify, GET /health",
        server.addr()
    );
    for w in server.workers {
        let _ = w.join();
    }
    Ok(())
}
