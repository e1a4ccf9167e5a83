//! The gRPC listener's connections, bounded as the REST side's are: at most `--max-connections`
//! open at once (more wait in the listen backlog), and a connection that sends nothing within the
//! deadline is closed (tonic has no header timeout of its own; its HTTP/2 keep-alive pings only
//! start once the client has spoken HTTP/2).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted connection holding one of the listener's slots until it closes.
pub struct Conn {
    stream: TcpStream,
    /// Until the first byte arrives: when it fires, reading fails with `TimedOut`.
    first_byte: Option<Pin<Box<Sleep>>>,
    _slot: OwnedSemaphorePermit,
}

/// Accepts on `listener` while a slot of `max` is free; each connection must send its first
/// byte within `first_byte_timeout`. The stream ends when tonic stops polling it (shutdown).
pub fn incoming(
    listener: TcpListener,
    max: usize,
    first_byte_timeout: Duration,
) -> ReceiverStream<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(1);
    let slots = Arc::new(Semaphore::new(max));
    tokio::spawn(async move {
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let conn = tokio::select! {
                r = listener.accept() => r,
                _ = tx.closed() => return,
            };
            let conn = match conn {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    Conn {
                        stream,
                        first_byte: Some(Box::pin(tokio::time::sleep(first_byte_timeout))),
                        _slot: slot,
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    eprintln!("pplcnet-server: gRPC accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if tx.send(Ok(conn)).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Some(timer) = this.first_byte.as_mut() {
            match &r {
                Poll::Ready(Ok(())) if buf.filled().len() > before => this.first_byte = None,
                Poll::Pending if timer.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the deadline",
                    )));
                }
                _ => {}
            }
        }
        r
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}
