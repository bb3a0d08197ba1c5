//! The authorized view of the application for one caller: the only door from the
//! GraphQL resolvers to the command service ([`Desk`], private here). Every read and
//! write asks [`crate::policy`], which holds every role rule: what a caller cannot
//! see is absent (or `NOT_FOUND`), what they cannot do is `FORBIDDEN`. Customers get
//! the customer view of cases and events (the allow-lists of [`crate::policy`]).
//! Every auditor read of case data is recorded in the access log: one case
//! (`CaseViewed`) or the cases one request listed (`CasesViewed`).
//!
//! - this file: the guard itself, one case, event visibility, commands.
//! - `reads`: pages of cases, queues, swarm rooms, history, the log, past states,
//!   workload and counts.
//! - `admin`: configuration, routing tools and tokens.
//! - `presence`: agents' presence (their own, set; everyone's, read by staff).
//! - `standing`: standing swarms (joined and left by agents; their queues, read by
//!   their members).

mod admin;
mod reads;
mod report;
mod wallboard;

pub use reads::{Budget, CasePage, VisibleWorkload};

pub mod live;

mod presence;
mod swarming;

pub use swarming::MAX_SUGGESTIONS;

mod knowledge;

pub use knowledge::{SeenArticle, MAX_ARTICLES};

mod contributions;

mod standing;

pub use standing::MAX_BACKLOG_DAYS;

mod audit;

mod erasure;

mod listing;

use async_graphql::Result;
use std::sync::Arc;

use super::error::{coded, gql, not_found, FORBIDDEN};
use super::types::{CaseMessages, CaseObj};
use super::Principal;
use crate::app::Recordable;
use crate::app::{Desk, WriteOptions, Written};
use crate::domain::{Case, CaseEvent, CaseId, Command, MessageKind, OpenCase};
use crate::policy;
use crate::projection::CaseView;
use crate::store::RecordedEvent;

#[derive(Clone)]
pub struct Guard {
    app: Arc<Desk>,
    principal: Principal,
}

fn forbidden(why: String) -> async_graphql::Error {
    coded(FORBIDDEN, format!("forbidden: {why}"))
}

impl Guard {
    /// The authenticated caller's guarded view of the application: every query,
    /// mutation and subscription goes through it, so authorization lives in one place.
    /// An agent or lead in the directory works the tiers it gives them (their own and
    /// their teams'), whatever their token says; others keep their token's tiers.
    pub fn of(ctx: &async_graphql::Context<'_>) -> Result<Guard> {
        let app = super::app(ctx)?.clone();
        let mut principal = super::principal(ctx)?.clone();
        if let Some(tiers) = crate::policy::directory_tiers(&app.config(), &principal) {
            principal.tiers = tiers;
        }
        Ok(Guard { app, principal })
    }

    pub fn can_read(&self, case: &Case) -> bool {
        policy::can_read(&self.principal, case, &self.app.tiers())
    }

    /// May the caller see a message of this kind? (Customers: public replies only.)
    pub fn can_see_message(&self, kind: MessageKind) -> bool {
        policy::can_see_message(&self.principal, kind)
    }

    /// Is the caller a customer (who sees only the customer view of cases and events)?
    pub fn is_customer(&self) -> bool {
        policy::sees_customer_view(&self.principal)
    }

    /// The case as this caller may see it: customers get only the fields of
    /// [`policy::CUSTOMER_CASE_FIELDS`].
    pub fn visible_case(&self, case: &Case, messages: CaseMessages) -> CaseObj {
        let obj = CaseObj::new(case, messages);
        if self.is_customer() {
            obj.customer_view()
        } else {
            obj
        }
    }

    /// The live case as this caller may see it; messages are read when asked.
    pub fn case_obj(&self, view: &CaseView) -> CaseObj {
        self.visible_case(&view.case, CaseMessages::Live)
    }

    /// A past view of the case, with the messages the caller may see.
    pub fn past_case_obj(&self, view: &CaseView) -> CaseObj {
        let messages = view
            .messages
            .iter()
            .filter(|m| self.can_see_message(m.kind))
            .cloned()
            .collect();
        self.visible_case(&view.case, CaseMessages::Fixed(messages))
    }

    /// Records an auditor's read of a case.
    pub async fn audit(&self, id: CaseId, what: &str) -> Result<()> {
        if policy::reads_are_logged(&self.principal) {
            self.app
                .record_view(&self.principal.actor, id, what)
                .await
                .map_err(gql)?;
        }
        Ok(())
    }

    /// Records an auditor's read of several cases in one request: one access-log
    /// event listing them, each once (nothing if none, or for other roles).
    pub async fn audit_many(
        &self,
        ids: impl IntoIterator<Item = CaseId>,
        what: &str,
    ) -> Result<()> {
        if !policy::reads_are_logged(&self.principal) {
            return Ok(());
        }
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<CaseId> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
        self.app
            .record_views(&self.principal.actor, ids, what)
            .await
            .map_err(gql)
    }

    /// The case's current view, if it exists and the caller may see it.
    pub async fn case(&self, id: CaseId) -> Result<Option<CaseObj>> {
        let found = {
            let p = self.app.projections().read();
            p.case(id)
                .filter(|v| self.can_read(&v.case))
                .map(|v| self.case_obj(v))
        };
        if found.is_some() {
            self.audit(id, "case").await?;
        }
        Ok(found)
    }

    /// Fails with `NOT_FOUND` unless the case exists and the caller may see it.
    pub fn require_visible(&self, id: CaseId) -> Result<()> {
        let visible = self
            .app
            .projections()
            .read()
            .case(id)
            .is_some_and(|v| self.can_read(&v.case));
        if visible {
            Ok(())
        } else {
            Err(not_found(format!("case {id}")))
        }
    }

    /// May the caller see this recorded event? Customers see only the event types of
    /// [`policy::customer_event_fields`] (and public replies among messages); token and
    /// access-log events are for admins and auditors.
    pub fn event_visible(&self, record: &RecordedEvent) -> bool {
        let Some(id) = CaseId::from_stream(&record.stream) else {
            return policy::can_read_system_streams(&self.principal);
        };
        let readable = self
            .app
            .projections()
            .read()
            .case(id)
            .is_some_and(|v| self.can_read(&v.case));
        if !readable {
            return false;
        }
        if self.is_customer() {
            if policy::customer_event_fields(&record.event_type).is_none() {
                return false;
            }
            return match CaseEvent::from_record(record) {
                Ok(CaseEvent::MessagePosted(m)) => self.can_see_message(m.kind),
                Ok(_) => true,
                Err(_) => false,
            };
        }
        true
    }

    /// The tiers the caller works: the directory's for agents and leads in it, else
    /// their token's (empty for admins, auditors and customers, whom tiers do not limit).
    pub fn works_tiers(&self) -> &[crate::domain::Tier] {
        &self.principal.tiers
    }

    /// Who is the actor, and with which role.
    pub fn actor(&self) -> &crate::domain::Actor {
        &self.principal.actor
    }

    /// The customer a case this caller opens is for ([`policy::customer_of_new_case`]).
    pub fn customer_of_new_case(&self, requested: String) -> String {
        policy::customer_of_new_case(&self.principal, requested)
    }

    pub async fn open_case(&self, open: OpenCase, opts: WriteOptions) -> Result<Written> {
        policy::can_open(&self.principal).map_err(forbidden)?;
        self.app
            .open_case(&self.principal.actor, open, opts)
            .await
            .map_err(gql)
    }

    /// Runs a command on a case. The command service authorizes it on the very state
    /// it decides on ([`policy::can_execute`] inside the write loop): one load per
    /// command, and a case that moved out of reach between attempts is not written.
    pub async fn execute(
        &self,
        id: CaseId,
        command: Command,
        opts: WriteOptions,
    ) -> Result<Written> {
        self.app
            .execute_as(&self.principal, id, command, opts)
            .await
            .map_err(gql)
    }

    /// Leads and admins: previews and simulations of routing.
    pub fn require_lead(&self) -> Result<()> {
        policy::require_lead(&self.principal).map_err(forbidden)
    }

    pub fn require_admin(&self) -> Result<()> {
        policy::require_admin(&self.principal).map_err(forbidden)
    }
}

impl Guard {
    /// Staff only: not customers.
    pub fn require_staff(&self) -> Result<()> {
        policy::require_staff(&self.principal).map_err(forbidden)
    }

    /// Resolves when the caller's token is revoked (never for in-process callers).
    pub fn revoked(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let app = self.app.clone();
        let token = self.principal.token_id.clone();
        async move {
            match token {
                Some(id) => app.tokens().revoked(id, app.clock().clone()).await,
                None => std::future::pending().await,
            }
        }
    }
}
