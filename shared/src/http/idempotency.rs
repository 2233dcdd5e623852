//! The `Idempotency-Key` protocol of every POST route (contract, "Idempotency"): `begin` claims the
//! key or says what to answer instead. A route whose work is one transaction writes its answer in
//! that transaction (`Call::completion`), so the work and its replayable answer commit together;
//! `finish` keeps any other answer below 500 and releases the key after a 5xx so a retry runs again.

use std::sync::{Arc, Mutex};

use lambda_http::{Request, RequestExt};

use super::envelope::Reply;
use super::request::fingerprint;
use crate::error::ApiError;
use crate::store::{Claim, Completion, Store, StoredResponse};
use crate::time::now_millis;

/// How long a claim is held when the invocation carries no deadline (outside Lambda).
const DEFAULT_CLAIM_MILLIS: u64 = 60_000;

/// What `begin` decided.
pub enum NextAction {
    /// This request runs; hand the claim to `finish`.
    Run(Claimed),
    /// The first request's answer, to send again as it was (with `Idempotent-Replayed: true`).
    Replay(Reply),
}

/// A key this invocation holds, and the answer its work committed with itself, if any.
#[derive(Debug, Clone)]
pub struct Claimed {
    app_id: String,
    key: String,
    token: String,
    committed: Arc<Mutex<Option<Reply>>>,
}

impl Claimed {
    /// The answer to write inside the work's own transaction; remembered, so that `finish` does not
    /// write it again when it is the answer sent.
    pub fn completion(&self, reply: &Reply) -> Completion {
        if let Ok(mut committed) = self.committed.lock() {
            *committed = Some(reply.clone());
        }
        Completion {
            app_id: self.app_id.clone(),
            key: self.key.clone(),
            token: self.token.clone(),
            response: stored(reply),
        }
    }

    fn committed(&self, reply: &Reply) -> bool {
        self.committed.lock().is_ok_and(|c| c.as_ref() == Some(reply))
    }
}

fn stored(reply: &Reply) -> StoredResponse {
    StoredResponse {
        status: reply.status,
        headers: reply.headers.clone(),
        body: reply.body.clone().unwrap_or_default(),
    }
}

/// Claims `key` for this request, held until the invocation's deadline. Errors: 409
/// `idempotency_in_progress`, 422 `idempotency_key_reused`, and storage's.
pub async fn begin(store: &Store, app_id: &str, key: &str, req: &Request) -> Result<NextAction, ApiError> {
    let now = now_millis();
    let deadline = req.lambda_context_ref().map(|c| c.deadline).filter(|d| *d > now);
    let locked_until = deadline.unwrap_or(now + DEFAULT_CLAIM_MILLIS);
    match store.claim_idempotency(app_id, key, &fingerprint(req), now, locked_until).await? {
        Claim::Acquired { token } => Ok(NextAction::Run(Claimed {
            app_id: app_id.to_owned(),
            key: key.to_owned(),
            token,
            committed: Arc::default(),
        })),
        Claim::Replay(stored) => Ok(NextAction::Replay(
            Reply { status: stored.status, headers: stored.headers, body: Some(stored.body) }
                .with_header("idempotent-replayed", "true"),
        )),
        Claim::InProgress => Err(ApiError::idempotency_in_progress()),
        Claim::Mismatch => Err(ApiError::idempotency_key_reused()),
    }
}

/// After the work: a 5xx frees the key; an answer the work committed itself is done; any other
/// answer is kept for replay now. A failure to free the key need not reach the caller: the claim
/// lapses at the invocation's deadline anyway.
pub async fn finish(store: &Store, claimed: &Claimed, reply: &Reply) -> Result<(), ApiError> {
    if reply.status >= 500 {
        store.release_idempotency(&claimed.app_id, &claimed.key, &claimed.token).await?;
    } else if !claimed.committed(reply) {
        store.complete_idempotency(&claimed.completion(reply)).await?;
    }
    Ok(())
}

/// Frees a claim whose request will not run (its key was refused); best effort, as the claim lapses
/// at the invocation's deadline anyway.
pub async fn abandon(store: &Store, claimed: &Claimed) {
    let _ = store.release_idempotency(&claimed.app_id, &claimed.key, &claimed.token).await;
}
