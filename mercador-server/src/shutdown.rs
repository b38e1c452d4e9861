//! Serving until SIGTERM or SIGINT with a grace period: the end of both
//! services' start-up.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` until SIGTERM or SIGINT; then sends `true`
/// on `stop` (background jobs watch it) and lets running requests go on
/// for `grace` at most. `service` names the service in the logs.
pub(crate) async fn serve_until_signal(
    listener: TcpListener,
    app: Router,
    listen: SocketAddr,
    stop: &watch::Sender<bool>,
    grace: Duration,
    service: &str,
) -> anyhow::Result<()> {
    let mut shutdown = stop.subscribe();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .into_future();
    tokio::pin!(server);
    tracing::info!(listen = %listen, "{service} service ready");

    let result = tokio::select! {
        result = &mut server => result.context("the HTTP server failed"),
        signal = shutdown_signal() => {
            tracing::info!(signal, grace_secs = grace.as_secs(), "shutting down: waiting for running requests");
            let _ = stop.send(true);
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result.context("the HTTP server failed"),
                Err(_) => {
                    tracing::warn!("requests still running after the grace period; stopping anyway");
                    Ok(())
                }
            }
        }
    };
    let _ = stop.send(true);
    result
}

/// Resolves on SIGTERM or SIGINT with the signal's name.
async fn shutdown_signal() -> &'static str {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
