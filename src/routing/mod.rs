//! Ordered routing rules: which tier, team, priority and tags a new case gets.
//!
//! This module owns the admin-editable rule set and its evaluation, and nothing else:
//! it is pure (no I/O, no clock, no store or API types), so the same rule set and case
//! always give the same [`RouteDecision`].
//!
//! - [`rule`]: the serializable rule set ([`RuleSet`], [`Rule`], [`Condition`],
//!   [`Actions`]) and its validation ([`RuleSet::validate`], [`RuleError`]).
//! - [`engine`]: evaluation. Enabled rules are checked one at a time in the admin's
//!   order; the **first** that matches routes the case and no later rule runs; when
//!   none matches, the rule set's `default` actions apply. [`CompiledRuleSet`] holds
//!   the regexes compiled once, for routing many cases.
//! - [`simulate`]: what-if replay of past cases through a proposed rule set.
//! - [`standard`]: the shipped default rule set, [`RuleSet::standard`], whose first
//!   rule moves billing, account and health matters off social channels.
//!
//! # Matching semantics
//! - **Keywords** match case-insensitively and on **whole words**: the text and each
//!   keyword are split into words (runs of Unicode letters and digits, lower-cased),
//!   and a keyword matches when its words occur consecutively in the text's words.
//!   So `refund` matches "Refund!" but not "refunded", and `not working` matches
//!   "NOT-working" and "not   working". List every form you mean (`charge`, `charged`).
//! - **Regexes** are matched as written (Rust `regex` syntax, unanchored); add `(?i)`
//!   for case-insensitive matching.
//! - **Language** entries match the case's language case-insensitively, exactly or as
//!   a prefix ending at a subtag boundary: `de` matches `de`, `de-AT` and `de_CH`, but
//!   not `den`; `de-AT` does not match plain `de`. A case without a language is taken
//!   to be `en`, as the domain does when it opens the case.
//! - **Tags** compare trimmed and lower-cased, as the domain stores them.
//! - A matching rule that sets no tier gets the `default` route's tier; its other
//!   unset actions stay unset (no team, keep the case's priority).

pub mod engine;
pub mod rule;
pub mod simulate;
pub mod standard;

#[cfg(test)]
mod tests;

pub use engine::{CompiledRuleSet, RouteDecision};
pub use rule::{Actions, Condition, Rule, RuleError, RuleOrigin, RuleSet, MAX_CONDITION_DEPTH};
pub use standard::{
    enforce_sensitive_floor, front_line, sensitive_floor, OUTAGE_KEYWORDS, SENSITIVE_KEYWORDS,
    STANDARD_TEAMS,
};
