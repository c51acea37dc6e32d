//! Safe re-sends of uploads. The spec's `POST /Bundle` 504 says "This does not imply the request has failed or
//! been rejected. Re-send the request using the same `X-Request-ID` value" (reference §3.5 retry guidance), so
//! the stateful mock remembers every upload it completed by `X-Request-ID` and the SHA-256 of its body
//! (**derived**: the NHS code that makes a re-send safe is not in the reference):
//!
//! - the same `X-Request-ID` (compared case-insensitively) with the same body answers 201 and stores nothing
//!   new — the client learns its earlier upload succeeded;
//! - the same `X-Request-ID` with a different body is a new request: validated and stored as any upload (and
//!   remembered in place of the earlier one);
//! - a new `X-Request-ID` for a `Composition.identifier` already held still gets Spine's PSIS-30134
//!   duplicate-event NACK ([`super::spine::nack_duplicate_event`]).
//!
//! Only uploads that were given an `X-Request-ID` are remembered; at most [`CAPACITY`], oldest forgotten first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::audit::Recording;
use super::backend::{self, Answer};
use super::transport::X_REQUEST_ID;
use super::{AppState, Profile};
use crate::scr::ScrError;

/// How many completed uploads are remembered.
pub const CAPACITY: usize = 100_000;

#[derive(Debug, Default)]
struct Book {
    by_request_id: HashMap<String, [u8; 32]>,
    order: VecDeque<String>,
}

/// The uploads a stateful mock completed, by `X-Request-ID`.
#[derive(Debug, Default)]
pub struct CompletedUploads {
    book: Mutex<Book>,
}

fn digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

impl CompletedUploads {
    /// Whether this request repeats an upload already completed: same `X-Request-ID`, same body.
    pub fn is_resend(&self, request_id: &str, body: &[u8]) -> bool {
        let book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        book.by_request_id.get(&request_id.to_ascii_lowercase()) == Some(&digest(body))
    }

    /// Remembers a completed upload.
    pub fn remember(&self, request_id: &str, body: &[u8]) {
        let key = request_id.to_ascii_lowercase();
        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
        if book.by_request_id.insert(key.clone(), digest(body)).is_none() {
            book.order.push_back(key);
        }
        while book.order.len() > CAPACITY {
            if let Some(oldest) = book.order.pop_front() {
                book.by_request_id.remove(&oldest);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.book.lock().unwrap_or_else(PoisonError::into_inner).by_request_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every upload (with `POST /_admin/reset`).
    pub fn clear(&self) {
        *self.book.lock().unwrap_or_else(PoisonError::into_inner) = Book::default();
    }
}

/// `POST /Bundle` with safe re-sends: a repeat of a completed upload answers 201 without reaching the
/// adaptor; any other upload goes to [`super::backend::post_bundle`] and, once created, is remembered.
pub fn upload_once(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    rec: &mut Recording<'_>,
) -> Result<Answer, ScrError> {
    let request_id = match app.profile {
        // An empty X-Request-ID is no id at all (the backend's filters treat it as absent).
        Profile::Stateful => headers.get(X_REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|id| !id.is_empty()),
        Profile::Sandbox => None,
    };
    if request_id.is_some_and(|id| app.uploads.is_resend(id, body)) {
        return Ok(Answer::Created);
    }
    let answer = backend::post_bundle(app, headers, body, rec)?;
    if let (Some(id), Answer::Created) = (request_id, &answer) {
        app.uploads.remember(id, body);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resend_needs_the_same_request_id_and_the_same_body() {
        let uploads = CompletedUploads::default();
        assert!(!uploads.is_resend("abc", b"body"));
        uploads.remember("ABC", b"body");
        assert!(uploads.is_resend("abc", b"body"), "ids compare case-insensitively");
        assert!(!uploads.is_resend("abc", b"other body"));
        assert!(!uploads.is_resend("abd", b"body"));
        uploads.remember("abc", b"other body");
        assert!(uploads.is_resend("abc", b"other body") && !uploads.is_resend("abc", b"body"));
        assert_eq!(uploads.len(), 1);
        uploads.clear();
        assert!(uploads.is_empty());
    }
}
