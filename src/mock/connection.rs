//! The mock's listener: plain TCP, except that a handler may ask for its connection to be **reset** — closed
//! with a TCP RST and no HTTP answer, as a load balancer or a crashed proxy does (the `connection-reset`
//! fault of [`super::faults`]).
//!
//! Each accepted stream carries a shared flag; its [`ConnectionHandle`] reaches the handler as axum's
//! `ConnectInfo`. Once flagged, the stream sets `SO_LINGER` to zero and fails every write, so hyper drops the
//! connection without sending a byte and the kernel answers the close with an RST instead of a FIN.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections can be reset by the handler serving them.
pub struct ResettingListener {
    inner: TcpListener,
}

impl ResettingListener {
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

/// What a handler knows of its connection: the peer, and the switch that resets it.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    pub remote: SocketAddr,
    reset: Arc<AtomicBool>,
}

impl ConnectionHandle {
    /// From now on the connection answers nothing more and is closed with an RST.
    pub fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }
}

/// A TCP stream that can be told to end with a reset.
pub struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl ResettableStream {
    /// `Some(error)` once the handler asked for a reset: lingering is switched off so that the close that
    /// follows the error sends an RST.
    fn refuse_if_reset(&self) -> Option<io::Error> {
        if !self.reset.load(Ordering::SeqCst) {
            return None;
        }
        if let Err(e) = socket2::SockRef::from(&self.inner).set_linger(Some(Duration::ZERO)) {
            tracing::warn!("cannot set SO_LINGER 0 for a connection reset: {e}");
        }
        Some(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by the mock (fault injection)"))
    }
}

impl Listener for ResettingListener {
    type Io = ResettableStream;
    type Addr = ConnectionHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // TcpListener's own accept logs and retries accept errors.
        let (inner, remote) = Listener::accept(&mut self.inner).await;
        let reset = Arc::new(AtomicBool::new(false));
        (ResettableStream { inner, reset: reset.clone() }, ConnectionHandle { remote, reset })
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        let remote = self.inner.local_addr()?;
        Ok(ConnectionHandle { remote, reset: Arc::new(AtomicBool::new(false)) })
    }
}

impl Connected<IncomingStream<'_, ResettingListener>> for ConnectionHandle {
    fn connect_info(stream: IncomingStream<'_, ResettingListener>) -> Self {
        stream.remote_addr().clone()
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.refuse_if_reset() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.refuse_if_reset() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.refuse_if_reset() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.refuse_if_reset() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.refuse_if_reset() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
