//! The API's error codes, and the one conversion from application errors to GraphQL
//! errors. Every error carries `extensions.code` from a small stable set.

use async_graphql::{Error, ErrorExtensions};

use crate::app::AppError;

pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const NOT_FOUND: &str = "NOT_FOUND";
pub const VERSION_CONFLICT: &str = "VERSION_CONFLICT";
pub const INVALID_TRANSITION: &str = "INVALID_TRANSITION";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const FORBIDDEN: &str = "FORBIDDEN";
pub const RATE_LIMITED: &str = "RATE_LIMITED";
pub const INTERNAL: &str = "INTERNAL";
/// The request did not finish within the server's request timeout.
pub const TIMEOUT: &str = "TIMEOUT";

/// A GraphQL error with a stable code.
pub fn coded(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub fn bad_input(message: impl Into<String>) -> Error {
    coded(BAD_USER_INPUT, message)
}

pub fn not_found(what: impl std::fmt::Display) -> Error {
    coded(NOT_FOUND, format!("{what} not found"))
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> Error {
        let code = match self {
            AppError::Domain(d) => d.code(),
            AppError::Config(c) => c.code(),
            AppError::VersionConflict { .. } => VERSION_CONFLICT,
            AppError::IdempotencyKeyReused(_) | AppError::Invalid(_) => BAD_USER_INPUT,
            AppError::NotFound(_) => NOT_FOUND,
            AppError::Forbidden(_) => FORBIDDEN,
            AppError::Store(_) | AppError::Projection(_) | AppError::Codec(_) => INTERNAL,
        };
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
