//! Captured knowledge: the rule of `captureKnowledge` (a case's state only; who may
//! capture is `policy::can_capture_knowledge`) and the bounds of an article.
//!
//! An article is written at or after resolution (the case is resolved or closed),
//! so what it says is what solved the case. Articles are never edited: a better
//! write-up is a new article.

use super::events::KnowledgeCaptured;
use crate::domain::case::{Case, Status};
use crate::domain::command::{tags, text, Decided};
use crate::domain::error::DomainError;
use crate::domain::event::CaseEvent;
use crate::domain::ids::AgentId;

/// Longest article title, in bytes.
pub const MAX_TITLE: usize = 200;
/// Longest article body, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Most tags on one article.
pub const MAX_ARTICLE_TAGS: usize = 16;

pub(crate) fn capture_knowledge(
    case: &Case,
    title: String,
    body: String,
    values: Vec<String>,
    action: &'static str,
    by: &AgentId,
) -> Decided {
    if case.status == Status::Open {
        return Err(DomainError::transition(
            action,
            "knowledge is captured at or after resolution; resolve the case first",
        ));
    }
    let tags = tags(&values)?;
    if tags.len() > MAX_ARTICLE_TAGS {
        return Err(DomainError::Invalid(format!(
            "an article has at most {MAX_ARTICLE_TAGS} tags"
        )));
    }
    Ok(vec![CaseEvent::KnowledgeCaptured(KnowledgeCaptured {
        title: text("title", &title, MAX_TITLE, true)?,
        body: text("body", &body, MAX_BODY, true)?,
        tags,
        by: by.clone(),
    })])
}
