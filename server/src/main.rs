//! `pplcnet-server`: the embedded pplcnet classifier behind the KServe v2 / Triton inference
//! protocol, REST (axum on hyper) and gRPC (tonic), computing on a fixed pool of worker threads.
//!
//! ```text
//! pplcnet-server [--listen 127.0.0.1:8000] [--grpc-listen 127.0.0.1:8001] [--workers N]
//!                [--model-name pplcnet] [--queue-depth 64] [--max-body-bytes B] [--max-pixels P]
//!                [--max-batch 64] [--deadline-ms 10000] [--max-connections 1024]
//! ```
//!
//! Once both listeners are bound it prints one line on stdout,
//! `listening rest=ADDR grpc=ADDR workers=N`, then serves until SIGTERM or Ctrl-C: it stops
//! accepting, lets in-flight requests finish (up to `--shutdown-grace-ms`), drains the queue and
//! exits with status 0.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;
use tokio::sync::watch;

mod grpc;
mod grpc_conn;
mod limits;
mod metrics;
mod pool;
mod protocol;
mod rest;
mod rest_json;
mod state;

/// Code generated from `proto/grpc_service.proto`.
mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("inference");
}

use limits::Options;

fn main() -> ExitCode {
    let opts = Options::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pplcnet-io")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pplcnet-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pplcnet-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(opts: Options) -> Result<(), Box<dyn std::error::Error>> {
    let workers = opts.worker_count();
    let limits = opts.limits();
    let metrics = Arc::new(metrics::Metrics::default());
    let pool = pool::Pool::new(
        workers,
        opts.queue_depth as usize,
        limits.max_pixels,
        Arc::clone(&metrics),
    )?;
    let state = Arc::new(state::State::new(limits.clone(), pool, metrics));

    let rest_listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (REST): {e}", opts.listen))?;
    let grpc_listener = TcpListener::bind(opts.grpc_listen)
        .await
        .map_err(|e| format!("cannot listen on {} (gRPC): {e}", opts.grpc_listen))?;
    let (rest_addr, grpc_addr) = (rest_listener.local_addr()?, grpc_listener.local_addr()?);

    let (stop_tx, stop_rx) = watch::channel(false);
    let grace = Duration::from_millis(opts.shutdown_grace_ms);

    let rest = tokio::spawn(rest::serve(
        rest_listener,
        rest::router(Arc::clone(&state)),
        Arc::clone(&state),
        opts.max_connections as usize,
        limits.deadline,
        stop_rx.clone(),
        grace,
    ));

    let service = pb::grpc_inference_service_server::GrpcInferenceServiceServer::new(
        grpc::Service(Arc::clone(&state)),
    )
    .max_decoding_message_size(limits.max_body_bytes)
    .max_encoding_message_size(usize::MAX);
    let mut grpc_stop = stop_rx.clone();
    let grpc = tokio::spawn(
        tonic::transport::Server::builder()
            // A backstop for slow message bodies: the service's own deadline (the same length,
            // started after the message arrived) answers DEADLINE_EXCEEDED first; tonic's
            // timeout would answer CANCELLED.
            .timeout(limits.deadline + Duration::from_secs(1))
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            .max_concurrent_streams(Some(256))
            .add_service(service)
            .serve_with_incoming_shutdown(
                grpc_conn::incoming(
                    grpc_listener,
                    opts.max_connections as usize,
                    limits.deadline,
                ),
                async move {
                    let _ = grpc_stop.changed().await;
                },
            ),
    );

    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening rest={rest_addr} grpc={grpc_addr} workers={workers}"
        )?;
        out.flush()?;
    }

    shutdown_signal().await;
    eprintln!("pplcnet-server: shutting down: finishing in-flight requests");
    state.stop_accepting();
    let _ = stop_tx.send(true);
    let _ = rest.await;
    match tokio::time::timeout(grace, grpc).await {
        Ok(Ok(Err(e))) => eprintln!("pplcnet-server: gRPC: {e}"),
        Err(_) => eprintln!("pplcnet-server: gRPC requests still running after the grace period"),
        _ => {}
    }
    // The queue is closed and drained; the workers exit.
    let st = Arc::clone(&state);
    tokio::task::spawn_blocking(move || st.pool.shutdown()).await?;
    Ok(())
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = ctrl_c => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
