//! Bearer tokens and the access log: issuing, revoking and loading tokens (the
//! `tokens` stream folded into the registry at start, then kept current from the
//! projection runner's live feed, so another node's revocation applies here within
//! the feed's delay), and recording auditors' reads of cases.

use super::record::append_request;
use super::record::Recordable;
use super::{AppError, Desk};
use crate::auth::TokenRegistry;
use crate::auth::{generate_token, hash_token, hex, token_id};
use crate::domain::access::{
    AccessEvent, CaseViewed, CasesViewed, TokenIssued, TokenRevoked, ACCESS_LOG_STREAM,
    TOKENS_STREAM,
};
use crate::domain::{Actor, AgentId, CaseId, Role, Timestamp};
use crate::projection::runner::Observer;
use crate::store::{ExpectedVersion, RecordedEvent};
use std::sync::Arc;

impl Desk {
    /// Folds the `tokens` stream into the registry (at start; the live feed brings
    /// what is appended after, see [`follow_tokens`]).
    pub async fn load_tokens(&self) -> Result<(), AppError> {
        for r in self.store.read_stream(TOKENS_STREAM, 1, usize::MAX).await? {
            self.tokens
                .apply_at(r.version, AccessEvent::from_record(&r)?);
        }
        Ok(())
    }

    async fn append_access(
        &self,
        by: &Actor,
        stream: &str,
        event: &AccessEvent,
    ) -> Result<(), AppError> {
        let request = append_request(
            stream,
            ExpectedVersion::Any,
            by,
            self.clock.now(),
            std::slice::from_ref(event),
        );
        let outcome = self.store.append(request).await?;
        self.projections.wait_for(outcome.last_position).await?;
        Ok(())
    }

    /// Issues a new token for `user`; returns the token (shown once) and its id.
    pub async fn issue_token(
        &self,
        by: &Actor,
        user: AgentId,
        role: Role,
        tiers: Vec<String>,
        expires_at: Option<Timestamp>,
    ) -> Result<(String, String), AppError> {
        // A SYSTEM token would let its holder record breaches and escalations as if
        // the SLA scheduler had.
        crate::policy::can_hold_token(role).map_err(AppError::Forbidden)?;
        let ladder = self.tiers();
        for t in &tiers {
            ladder.get(t)?;
        }
        let token = generate_token()
            .map_err(|e| AppError::Internal(format!("no randomness available: {e}")))?;
        let hash = hash_token(&token);
        let event = AccessEvent::TokenIssued(TokenIssued {
            token_id: token_id(&hash),
            hash: hex(&hash),
            user,
            role,
            tiers,
            expires_at,
        });
        // Applied from the live feed before the wait for the projections ends.
        self.append_access(by, TOKENS_STREAM, &event).await?;
        Ok((token, token_id(&hash)))
    }

    /// Revokes a token by id; it stops working at once, on open connections too.
    pub async fn revoke_token(&self, by: &Actor, id: &str) -> Result<(), AppError> {
        if !self.tokens.list().iter().any(|t| t.token_id == id) {
            return Err(AppError::NotFound(format!("token {id}")));
        }
        let event = AccessEvent::TokenRevoked(TokenRevoked {
            token_id: id.into(),
        });
        self.append_access(by, TOKENS_STREAM, &event).await?;
        Ok(())
    }

    /// Records that an auditor read a case.
    pub async fn record_view(
        &self,
        by: &Actor,
        case_id: CaseId,
        what: &str,
    ) -> Result<(), AppError> {
        let event = AccessEvent::CaseViewed(CaseViewed {
            case_id,
            what: what.into(),
        });
        self.append_access(by, ACCESS_LOG_STREAM, &event).await
    }

    /// Records an auditor's read of several cases in one request (nothing if none).
    pub async fn record_views(
        &self,
        by: &Actor,
        case_ids: Vec<CaseId>,
        what: &str,
    ) -> Result<(), AppError> {
        if case_ids.is_empty() {
            return Ok(());
        }
        let event = AccessEvent::CasesViewed(CasesViewed {
            case_ids,
            what: what.into(),
        });
        self.append_access(by, ACCESS_LOG_STREAM, &event).await
    }
}

/// Applies the `tokens` events of the live feed (every node's) to `tokens`.
pub(super) fn follow_tokens(tokens: Arc<TokenRegistry>) -> Observer {
    Arc::new(move |r: &RecordedEvent| {
        if r.stream != TOKENS_STREAM {
            return;
        }
        match AccessEvent::from_record(r) {
            Ok(e) => tokens.apply_at(r.version, e),
            Err(e) => tracing::error!(error = %e, position = r.position, "unreadable token event"),
        }
    })
}
