//! [`Capture`]: an in-memory `io::Write` sink for a test's tracing subscriber, shared by the
//! tests that search every log line for secrets.

use std::sync::{Arc, Mutex};

/// Bytes written by a `tracing_subscriber::fmt` writer; clone it into the writer closure.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
