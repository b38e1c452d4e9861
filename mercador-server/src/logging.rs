//! Structured logs with `tracing` on standard error: `pretty` lines or one
//! JSON object per line, filtered by `RUST_LOG` or `[server] log_filter`.
//!
//! What is logged: one span per request (method, path, request id, caller)
//! with its status and latency, engine events, errors. Never headers, query
//! strings, bodies, tokens or secrets.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` wins over `filter` when set.
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => {
            EnvFilter::try_new(&env).map_err(|e| anyhow::anyhow!("RUST_LOG {env:?} is not a log filter: {e}"))?
        }
        _ => EnvFilter::try_new(filter).map_err(|e| {
            anyhow::anyhow!("configuration: [server] log_filter {filter:?} is not a log filter (e.g. \"info\"): {e}")
        })?,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(true);
    let installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.with_ansi(false).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}
