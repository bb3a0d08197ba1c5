//! The API edge of errors: the one conversion from application errors (each of which
//! knows its [`Code`], from the table in `crate::code`) to GraphQL errors with
//! `extensions.code`. Internal failures are logged here and reach clients only as
//! `INTERNAL` without details.

use async_graphql::{Error, ErrorExtensions};

use crate::app::AppError;
pub use crate::code::Code;

pub const BAD_USER_INPUT: Code = Code::BadUserInput;
pub const NOT_FOUND: Code = Code::NotFound;
pub const VERSION_CONFLICT: Code = Code::VersionConflict;
pub const INVALID_TRANSITION: Code = Code::InvalidTransition;
pub const UNAUTHENTICATED: Code = Code::Unauthenticated;
pub const FORBIDDEN: Code = Code::Forbidden;
pub const RATE_LIMITED: Code = Code::RateLimited;
pub const INTERNAL: Code = Code::Internal;
pub const UNAVAILABLE: Code = Code::Unavailable;
/// The request did not finish within the server's request timeout.
pub const TIMEOUT: Code = Code::Timeout;

/// A GraphQL error with a stable code.
pub fn coded(code: Code, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code.name()))
}

pub fn bad_input(message: impl Into<String>) -> Error {
    coded(BAD_USER_INPUT, message)
}

pub fn not_found(what: impl std::fmt::Display) -> Error {
    coded(NOT_FOUND, format!("{what} not found"))
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> Error {
        let code = self.code();
        if code == INTERNAL {
            // Details of internal failures go to the log, not to clients.
            tracing::error!(error = %self, "internal error");
            return coded(INTERNAL, "internal error; see the server log");
        }
        let err = coded(code, self.to_string());
        match self {
            AppError::VersionConflict { expected, current } => err.extend_with(|_, e| {
                e.set("expectedVersion", *expected);
                e.set("currentVersion", *current);
            }),
            _ => err,
        }
    }
}

/// Converts any application error into a coded GraphQL error.
pub fn gql(e: AppError) -> Error {
    e.extend()
}
