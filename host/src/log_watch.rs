//! Follows the head of the event log, so long-polls, event streams and
//! subscribers wake up when new events commit.
//!
//! Writers in this process nudge the watcher right after they commit; a
//! short poll catches commits of other hosts sharing the database.

use std::sync::Arc;
use std::time::Duration;

use omni_core::Store;
use tokio::sync::{Notify, watch};

use crate::shutdown::Shutdown;

/// How often the head is read without a nudge (other hosts' commits).
const POLL: Duration = Duration::from_millis(250);

/// The latest known head of the event log.
pub struct LogWatch {
    head: watch::Sender<i64>,
    nudge: Notify,
}

impl LogWatch {
    /// A watcher starting at `head`.
    pub fn new(head: i64) -> Arc<Self> {
        Arc::new(Self {
            head: watch::channel(head).0,
            nudge: Notify::new(),
        })
    }

    /// Says that events may have committed: the head is read at once.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// The latest head seen.
    pub fn head(&self) -> i64 {
        *self.head.borrow()
    }

    /// A receiver that sees every change of the head.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// Waits until the head passes `position` or `timeout` elapses; true if it did.
    pub async fn wait_beyond(&self, position: i64, timeout: Duration) -> bool {
        let mut rx = self.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|head| *head > position)).await,
            Ok(Ok(_))
        )
    }

    /// Reads the head on every nudge and every [`POLL`] until shutdown.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>, stop: Shutdown) {
        while !stop.is_requested() {
            tokio::select! {
                _ = self.nudge.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait() => break,
            }
            match store.event_head().await {
                Ok(head) => {
                    self.head.send_if_modified(|current| {
                        let moved = head > *current;
                        if moved {
                            *current = head;
                        }
                        moved
                    });
                }
                Err(e) => tracing::warn!("cannot read the event log head: {e}"),
            }
        }
    }
}
