//! Why a command was refused. Each variant knows the stable API code it maps to, so
//! the API edge converts errors in one place.

use thiserror::Error;

use super::sla::SlaRefusal;
use super::tier::Tier;
use crate::code::Code;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// The input itself is malformed (empty subject, bad id, text too long).
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("tier `{0}` is not configured")]
    UnknownTier(String),
    #[error("case does not exist")]
    CaseNotFound,
    #[error("case already exists")]
    CaseExists,
    /// The case is in a state where this command makes no sense.
    #[error("cannot {action}: {reason}")]
    InvalidTransition {
        action: &'static str,
        reason: String,
    },
    #[error("cannot escalate: the case is already at the top tier `{0}`")]
    TopTier(Tier),
    #[error("cannot de-escalate: the case is already at the lowest tier `{0}`")]
    BottomTier(Tier),
    /// An SLA breach or escalation step that is not (or no longer) due.
    #[error("cannot {action}: {reason}")]
    Sla {
        action: &'static str,
        reason: SlaRefusal,
    },
}

impl DomainError {
    pub(crate) fn transition(action: &'static str, reason: impl Into<String>) -> Self {
        DomainError::InvalidTransition {
            action,
            reason: reason.into(),
        }
    }

    /// The stable API code: `BAD_USER_INPUT`, `NOT_FOUND` or `INVALID_TRANSITION`.
    pub fn code(&self) -> Code {
        match self {
            DomainError::Invalid(_) | DomainError::UnknownTier(_) => Code::BadUserInput,
            DomainError::CaseNotFound => Code::NotFound,
            DomainError::CaseExists
            | DomainError::InvalidTransition { .. }
            | DomainError::TopTier(_)
            | DomainError::BottomTier(_)
            | DomainError::Sla { .. } => Code::InvalidTransition,
        }
    }
}
