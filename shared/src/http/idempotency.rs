//! The `Idempotency-Key` protocol of every POST route (contract, "Idempotency"): `begin` claims the
//! key or says what to answer instead; `finish` keeps an answer below 500 for replay and releases
//! the key after a 5xx so that a retry runs again.

use lambda_http::{Request, RequestExt};

use super::envelope::Reply;
use super::request::fingerprint;
use crate::error::ApiError;
use crate::store::{Claim, Store, StoredResponse};
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

/// A key this invocation holds.
pub struct Claimed {
    key: String,
    token: String,
}

/// Claims `key` for this request, held until the invocation's deadline. Errors: 409
/// `idempotency_in_progress`, 422 `idempotency_key_reused`, and storage's.
pub async fn begin(store: &Store, app_id: &str, key: &str, req: &Request) -> Result<NextAction, ApiError> {
    let now = now_millis();
    let deadline = req.lambda_context_ref().map(|c| c.deadline).filter(|d| *d > now);
    let locked_until = deadline.unwrap_or(now + DEFAULT_CLAIM_MILLIS);
    match store.claim_idempotency(app_id, key, &fingerprint(req), now, locked_until).await? {
        Claim::Acquired { token } => Ok(NextAction::Run(Claimed { key: key.to_owned(), token })),
        Claim::Replay(stored) => Ok(NextAction::Replay(
            Reply { status: stored.status, headers: stored.headers, body: Some(stored.body) }
                .with_header("idempotent-replayed", "true"),
        )),
        Claim::InProgress => Err(ApiError::idempotency_in_progress()),
        Claim::Mismatch => Err(ApiError::idempotency_key_reused()),
    }
}

/// Keeps `reply` for replay, or (for a 5xx) frees the key. A failure to free it need not reach
/// the caller: the claim lapses at the invocation's deadline anyway.
pub async fn finish(store: &Store, app_id: &str, claimed: Claimed, reply: &Reply) -> Result<(), ApiError> {
    if reply.status >= 500 {
        store.release_idempotency(app_id, &claimed.key, &claimed.token).await?;
        return Ok(());
    }
    let stored = StoredResponse {
        status: reply.status,
        headers: reply.headers.clone(),
        body: reply.body.clone().unwrap_or_default(),
    };
    store.complete_idempotency(app_id, &claimed.key, &claimed.token, &stored).await?;
    Ok(())
}
