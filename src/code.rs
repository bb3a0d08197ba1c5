//! The one table of error codes: every refusal the server can answer with, its stable
//! name (`extensions.code` in GraphQL, `code` in HTTP error bodies), the HTTP status it
//! stands for, and what it means to a client. Errors of every layer (domain,
//! configuration, routing, the command service, the store) say which [`Code`] they are;
//! the API edge converts them once. The README's list of codes is generated from
//! [`Code::markdown_table`] and compared with it by a test.

use std::fmt;

/// A stable error code. Adding one is an API change: add it to [`Code::ALL`] and the
/// README (the test says how).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    BadUserInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    VersionConflict,
    InvalidTransition,
    RateLimited,
    Timeout,
    Unavailable,
    Damaged,
    Internal,
}

impl Code {
    /// Every code, in the order the README lists them.
    pub const ALL: [Code; 11] = [
        Code::BadUserInput,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::NotFound,
        Code::VersionConflict,
        Code::InvalidTransition,
        Code::RateLimited,
        Code::Timeout,
        Code::Unavailable,
        Code::Damaged,
        Code::Internal,
    ];

    /// The name clients match on.
    pub const fn name(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status this code stands for, where the transport answers with one
    /// (GraphQL field errors travel in a `200` response).
    pub const fn http_status(self) -> u16 {
        self.row().1
    }

    /// What it means and what a client does about it.
    pub const fn description(self) -> &'static str {
        self.row().2
    }

    const fn row(self) -> (&'static str, u16, &'static str) {
        match self {
            Code::BadUserInput => (
                "BAD_USER_INPUT",
                400,
                "the request is malformed or exceeds a limit (size, depth, complexity, items, \
                 nesting); fix it, do not retry as is",
            ),
            Code::Unauthenticated => (
                "UNAUTHENTICATED",
                401,
                "no valid token (missing, unknown, revoked or expired) where one is needed",
            ),
            Code::Forbidden => (
                "FORBIDDEN",
                403,
                "the caller's role may not do this (for something they may not see, the answer is \
                 `NOT_FOUND`)",
            ),
            Code::NotFound => (
                "NOT_FOUND",
                404,
                "no such case, team, agent, rule or policy, or none the caller may see",
            ),
            Code::VersionConflict => (
                "VERSION_CONFLICT",
                409,
                "`expectedVersion` is behind: someone wrote first; `expectedVersion` and \
                 `currentVersion` are in the extensions; reload and decide again",
            ),
            Code::InvalidTransition => (
                "INVALID_TRANSITION",
                409,
                "the case (or configuration) is in a state where this command makes no sense, e.g. \
                 resolving a closed case or moving a sensitive case below the floor",
            ),
            Code::RateLimited => (
                "RATE_LIMITED",
                429,
                "the token's request rate (or a connection's subscriptions) is exceeded; slow down",
            ),
            Code::Timeout => (
                "TIMEOUT",
                504,
                "the request did not finish within the request timeout (or its body was not received \
                 in time: HTTP 408); retry a smaller request",
            ),
            Code::Unavailable => (
                "UNAVAILABLE",
                503,
                "the server cannot take this now: the store refuses writes (e.g. its disk is full; \
                 nothing of the request was written; `/healthz` says when writes are accepted \
                 again), or it holds as many WebSocket connections as it may (`--max-websockets`); \
                 retry later",
            ),
            Code::Damaged => (
                "DAMAGED",
                500,
                "the case's stored history cannot be read back (damaged log data), so it takes no \
                 writes until the data is restored; other cases are not affected",
            ),
            Code::Internal => (
                "INTERNAL",
                500,
                "a failure on the server's side; details are in the server's log, never in the \
                 answer",
            ),
        }
    }

    /// The README's table of codes.
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | HTTP | meaning |\n|---|---|---|\n");
        for c in Code::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.name(),
                c.http_status(),
                c.description()
            ));
        }
        out
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_screaming_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.name()), "{c} twice");
            assert!(
                c.name()
                    .chars()
                    .all(|ch| ch.is_ascii_uppercase() || ch == '_'),
                "{c}"
            );
            assert!((400..600).contains(&c.http_status()), "{c}");
        }
    }

    /// The README lists exactly the table's codes, generated by `markdown_table`.
    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../README.md");
        let table = Code::markdown_table();
        assert!(
            readme.contains(&table),
            "the README's error code table differs from src/code.rs; paste this in its place:\n{table}"
        );
    }
}
