//! The process's log: human-readable text (the default) or one JSON object per line
//! (`serve --log-format json`), on stderr, filtered by `RUST_LOG` (default `info`).
//! In JSON, each line carries the spans it was logged in (`spans`, outermost first),
//! so whatever is logged while a request runs carries its `request_id` (see
//! [`crate::http::request_id`]).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text for people: colours at a terminal, none in files or journals.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            // Colour codes only for a person at a terminal, not in files or journals.
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}
