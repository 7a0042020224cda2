//! A plugin's stderr, kept in memory so a crash can be explained.
//!
//! Rust guests print their panic message to stderr. The host keeps the first
//! few kilobytes and silently drops the rest, so a chatty plugin can neither
//! fill the host's memory nor fail because stderr is full.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes of stderr kept per call.
const CAPACITY: usize = 4096;

/// The captured stderr of one call.
#[derive(Clone, Default)]
pub struct CapturedStderr {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CapturedStderr {
    /// What the plugin wrote, lossily decoded and trimmed.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer).trim().to_owned()
    }

    /// Forgets what was written (a warm instance's next call).
    pub fn clear(&self) {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn keep(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = CAPACITY.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl IsTerminal for CapturedStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedStderr {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CapturedStderr {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedStderr {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedStderr {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_start_and_drops_the_rest() {
        let mut stderr = CapturedStderr::default();
        OutputStream::write(&mut stderr, Bytes::from_static(b"panicked at boom\n")).unwrap();
        OutputStream::write(&mut stderr, Bytes::from(vec![b'x'; CAPACITY * 2])).unwrap();
        let text = stderr.text();
        assert!(text.starts_with("panicked at boom"));
        assert_eq!(text.len(), CAPACITY);
    }
}
