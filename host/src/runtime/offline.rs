//! The network of a conformance run: nothing leaves the machine. Every
//! outbound request is recorded, one to a host the manifest did not declare
//! is refused and reported, and the rest get a fixed answer, so a run is
//! deterministic and needs no provider account.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::egress::AllowList;

/// A scripted answer to an outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The answer when nothing is scripted: the provider is "unavailable".
    pub fn unavailable() -> Self {
        Self {
            status: 503,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"error":"offline: omni plugin test answers every outbound request with 503"}"#.to_vec(),
        }
    }
}

/// Records requests and answers them from a script.
pub struct OfflineNetwork {
    declared: AllowList,
    script: Mutex<VecDeque<Answer>>,
}

impl OfflineNetwork {
    /// A network allowing the hosts the manifest declares.
    pub fn new(declared: AllowList) -> Self {
        Self {
            declared,
            script: Mutex::new(VecDeque::new()),
        }
    }

    /// Queues answers for the next requests.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap_or_else(|e| e.into_inner()).extend(answers);
    }

    /// Forgets queued answers.
    pub fn clear(&self) {
        self.script.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether the manifest declared the URL's host.
    pub fn declared(&self, url: &str) -> bool {
        self.declared.permits(url)
    }

    /// The next scripted answer, or [`Answer::unavailable`].
    pub fn answer(&self) -> Answer {
        self.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .unwrap_or_else(Answer::unavailable)
    }
}

impl std::fmt::Debug for OfflineNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineNetwork").finish_non_exhaustive()
    }
}
