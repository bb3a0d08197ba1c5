//! The authorized view of the application for one caller. Resolvers reach cases,
//! the log and commands only through a [`Guard`], which asks [`crate::policy`] every
//! time: what a caller cannot see is absent (or `NOT_FOUND`), what they cannot do is
//! `FORBIDDEN`. Auditors' reads of a case are recorded in the access log.

use async_graphql::Result;
use std::sync::Arc;

use super::error::{coded, gql, not_found, FORBIDDEN};
use super::types::{CaseMessages, CaseObj};
use super::Principal;
use crate::app::{App, WriteOptions, Written};
use crate::domain::{Case, CaseEvent, CaseId, Command, MessageKind, OpenCase, Role};
use crate::policy;
use crate::projection::CaseView;
use crate::store::RecordedEvent;

#[derive(Clone)]
pub struct Guard {
    pub app: Arc<App>,
    pub principal: Principal,
}

fn forbidden(why: String) -> async_graphql::Error {
    coded(FORBIDDEN, format!("forbidden: {why}"))
}

impl Guard {
    pub fn can_read(&self, case: &Case) -> bool {
        policy::can_read(&self.principal, case, &self.app.tiers())
    }

    /// May the caller see a message of this kind? (Customers: public replies only.)
    pub fn can_see_message(&self, kind: MessageKind) -> bool {
        policy::can_see_message(&self.principal, kind)
    }

    /// The live case as this caller may see it; messages are read when asked.
    pub fn case_obj(&self, view: &CaseView) -> CaseObj {
        CaseObj::new(&view.case, CaseMessages::Live)
    }

    /// A past view of the case, with the messages the caller may see.
    pub fn past_case_obj(&self, view: &CaseView) -> CaseObj {
        let messages = view
            .messages
            .iter()
            .filter(|m| self.can_see_message(m.kind))
            .cloned()
            .collect();
        CaseObj::new(&view.case, CaseMessages::Fixed(messages))
    }

    /// Records an auditor's read of a case.
    pub async fn audit(&self, id: CaseId, what: &str) -> Result<()> {
        if self.principal.actor.role == Role::Auditor {
            self.app
                .record_view(&self.principal.actor, id, what)
                .await
                .map_err(gql)?;
        }
        Ok(())
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

    /// May the caller see this recorded event? Customers never see internal messages;
    /// token and access-log events are for admins and auditors.
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
        if self.principal.actor.role == Role::Customer {
            return match CaseEvent::decode(
                &record.event_type,
                record.schema_version,
                &record.payload,
            ) {
                Ok(CaseEvent::MessagePosted(m)) => self.can_see_message(m.kind),
                // SLA bookkeeping is internal to the support team.
                Ok(
                    CaseEvent::SlaApplied(_)
                    | CaseEvent::SlaBreached(_)
                    | CaseEvent::SlaEscalated(_)
                    | CaseEvent::FirstResponded(_),
                ) => false,
                _ => true,
            };
        }
        true
    }

    pub async fn open_case(&self, open: OpenCase, opts: WriteOptions) -> Result<Written> {
        policy::can_open(&self.principal).map_err(forbidden)?;
        self.app
            .open_case(&self.principal.actor, open, opts)
            .await
            .map_err(gql)
    }

    pub async fn execute(
        &self,
        id: CaseId,
        command: Command,
        opts: WriteOptions,
    ) -> Result<Written> {
        let case = self.app.load(id).await.map_err(gql)?;
        if !case.exists() || !self.can_read(&case) {
            // Writes to an invisible case reveal nothing about it.
            if self.principal.actor.role == Role::Auditor {
                return Err(forbidden("auditors are read-only".into()));
            }
            return Err(not_found(format!("case {id}")));
        }
        policy::can_execute(&self.principal, &case, &command, &self.app.tiers())
            .map_err(forbidden)?;
        self.app
            .execute_as(&self.principal, id, command, opts)
            .await
            .map_err(gql)
    }

    /// Leads and admins: previews and simulations of routing.
    pub fn require_lead(&self) -> Result<()> {
        match self.principal.actor.role {
            Role::Admin | Role::Lead => Ok(()),
            _ => Err(forbidden("leads and admins only".into())),
        }
    }

    pub fn require_admin(&self) -> Result<()> {
        if policy::is_admin(&self.principal) {
            Ok(())
        } else {
            Err(forbidden("admins only".into()))
        }
    }
}

impl Guard {
    /// Staff only: not customers.
    pub fn require_staff(&self) -> Result<()> {
        if self.principal.actor.role == Role::Customer {
            Err(forbidden("staff only".into()))
        } else {
            Ok(())
        }
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
