//! The REST front end (KServe v2 HTTP/REST protocol) on axum, and its connection loop on
//! hyper-util: header-read deadline, connection limit, graceful shutdown.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::protocol::{self, ErrorKind, InferError};
use crate::rest_json;
use crate::state::State;

type Shared = Arc<State>;

/// The binary tensor extension's header: the length of the JSON part of a body.
const HEADER_LEN: &str = "inference-header-content-length";

/// The routes of the protocol, plus `/metrics`.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2", get(server_metadata))
        .route("/v2/models/{name}", get(model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(model_metadata_v),
        )
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(model_ready_v),
        )
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/models/{name}/versions/{version}/infer", post(infer_v))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(state)
}

fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Deadline => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The protocol's error form: `{"error": "..."}` with the status of its kind.
fn error_response(state: &State, code: StatusCode, message: &str) -> Response {
    state.metrics.request("http", code.as_str());
    (code, axum::Json(json!({ "error": message }))).into_response()
}

fn reply(state: &State, code: StatusCode, body: serde_json::Value) -> Response {
    state.metrics.request("http", code.as_str());
    (code, axum::Json(body)).into_response()
}

async fn live(AxState(s): AxState<Shared>) -> Response {
    reply(&s, StatusCode::OK, json!({ "live": true }))
}

async fn ready(AxState(s): AxState<Shared>) -> Response {
    let ok = s.ready();
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    reply(&s, code, json!({ "ready": ok }))
}

async fn server_metadata(AxState(s): AxState<Shared>) -> Response {
    reply(
        &s,
        StatusCode::OK,
        json!({
            "name": "pplcnet-server",
            "version": env!("CARGO_PKG_VERSION"),
            "extensions": protocol::EXTENSIONS,
        }),
    )
}

async fn model_metadata(s: AxState<Shared>, Path(name): Path<String>) -> Response {
    model_metadata_v(s, Path((name, String::new()))).await
}

async fn model_metadata_v(
    AxState(s): AxState<Shared>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    if let Err(e) = protocol::check_model(&s.limits, &name, &version) {
        return error_response(&s, status(e.kind), &e.message);
    }
    reply(
        &s,
        StatusCode::OK,
        json!({
            "name": name,
            "versions": [protocol::MODEL_VERSION],
            "platform": protocol::PLATFORM,
            "inputs": [{ "name": protocol::INPUT_NAME, "datatype": "UINT8", "shape": protocol::input_shape() }],
            "outputs": [{ "name": protocol::output_name(), "datatype": "FP32", "shape": protocol::output_shape() }],
        }),
    )
}

async fn model_ready(s: AxState<Shared>, Path(name): Path<String>) -> Response {
    model_ready_v(s, Path((name, String::new()))).await
}

async fn model_ready_v(
    AxState(s): AxState<Shared>,
    Path((name, version)): Path<(String, String)>,
) -> Response {
    if let Err(e) = protocol::check_model(&s.limits, &name, &version) {
        return error_response(&s, status(e.kind), &e.message);
    }
    let ok = s.ready();
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    reply(&s, code, json!({ "name": name, "ready": ok }))
}

async fn metrics(AxState(s): AxState<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn not_found(AxState(s): AxState<Shared>) -> Response {
    error_response(&s, StatusCode::NOT_FOUND, "not found")
}

async fn infer(s: AxState<Shared>, Path(name): Path<String>, h: HeaderMap, body: Body) -> Response {
    infer_v(s, Path((name, String::new())), h, body).await
}

async fn infer_v(
    AxState(s): AxState<Shared>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let deadline = start + s.limits.deadline;
    let resp = match infer_inner(&s, &name, &version, &headers, body, deadline).await {
        Ok(resp) => {
            s.metrics.request("http", "200");
            resp
        }
        Err((code, e)) => error_response(&s, code, &e.message),
    };
    s.metrics.infer_latency("http", start.elapsed());
    resp
}

async fn infer_inner(
    s: &State,
    name: &str,
    version: &str,
    headers: &HeaderMap,
    body: Body,
    deadline: Instant,
) -> Result<Response, (StatusCode, InferError)> {
    let err = |e: InferError| (status(e.kind), e);
    let limit = s.limits.max_body_bytes;
    let too_large = || {
        err(InferError::new(
            ErrorKind::TooLarge,
            format!("the request body is larger than the limit of {limit} bytes"),
        ))
    };
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        match len.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n > limit as u64 => {
                drain(body, deadline).await;
                return Err(too_large());
            }
            Some(_) => {}
            None => return Err(err(InferError::bad("invalid Content-Length"))),
        }
    }
    // The body must arrive, whole, before the deadline: a client dripping it holds only this
    // task, never a worker. It is read before any other check so that an error answer does not
    // leave a half-sent body behind (the client would see a reset instead of the error).
    let bytes =
        match tokio::time::timeout_at(deadline.into(), axum::body::to_bytes(body, limit)).await {
            Err(_) => {
                return Err((
                    StatusCode::REQUEST_TIMEOUT,
                    InferError::new(
                        ErrorKind::Deadline,
                        "the request body did not arrive before the deadline",
                    ),
                ))
            }
            Ok(Err(e)) => {
                if is_length_limit(&e) {
                    return Err(too_large());
                }
                return Err(err(InferError::bad(format!(
                    "cannot read the request body: {e}"
                ))));
            }
            Ok(Ok(b)) => b,
        };
    protocol::check_model(&s.limits, name, version).map_err(err)?;
    let (json_part, binary) = split_binary(headers, bytes).map_err(err)?;
    let req: rest_json::InferRequest = serde_json::from_slice(&json_part).map_err(|e| {
        err(InferError::bad(format!(
            "malformed inference request JSON: {e}"
        )))
    })?;
    let plan =
        protocol::plan_output(&req.outputs().map_err(err)?, req.binary_default()).map_err(err)?;
    let id = req.id.clone();
    let inputs = req.inputs(binary).map_err(err)?;
    let out = s.infer(inputs, plan, deadline).await.map_err(err)?;
    let (body, header_len) = rest_json::response_body(name, id.as_deref(), out, plan.binary)
        .map_err(|e| err(InferError::new(ErrorKind::Internal, e.to_string())))?;
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    match header_len {
        Some(n) => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(HEADER_LEN, HeaderValue::from(n));
        }
        None => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
    Ok(resp)
}

/// The most bytes of a too-large body read and discarded so that the client can read the 413
/// answer (HTTP/1 clients usually send the whole body before they read).
const DRAIN_MAX: usize = 64 << 20;

/// Reads and discards up to [`DRAIN_MAX`] bytes of `body`, until `deadline`.
async fn drain(body: Body, deadline: Instant) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    let _ = tokio::time::timeout_at(deadline.into(), async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                seen += d.len();
                if seen > DRAIN_MAX {
                    break;
                }
            }
        }
    })
    .await;
}

/// Whether a body error is the size limit.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        src = s.source();
    }
    false
}

/// Splits a body into its JSON part and the binary data after it (binary tensor extension).
fn split_binary(headers: &HeaderMap, body: Bytes) -> Result<(Bytes, Bytes), InferError> {
    let Some(v) = headers.get(HEADER_LEN) else {
        return Ok((body, Bytes::new()));
    };
    let n = v
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or_else(|| InferError::bad("invalid Inference-Header-Content-Length"))?;
    if n > body.len() {
        return Err(InferError::bad(format!(
            "Inference-Header-Content-Length {n} is larger than the body ({} bytes)",
            body.len()
        )));
    }
    Ok((body.slice(..n), body.slice(n..)))
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets open connections finish
/// their requests for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    state: Shared,
    max_connections: usize,
    header_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    eprintln!("pplcnet-server: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let metrics = Arc::clone(&state.metrics);
        tokio::spawn(async move {
            metrics.connections.fetch_add(1, Relaxed);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(conn).await;
            metrics.connections.fetch_sub(1, Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
}
