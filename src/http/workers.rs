//! The HTTP server: `workers` threads, each serving the app on the listener, and
//! handing the connections of WebSocket upgrades to [`super::takeover`].
//!
//! Built from actix's parts (actix-server, actix-http's `HttpService`) rather than
//! actix-web's `HttpServer`, which has no place for an upgrade hook; it is configured
//! as `HttpServer` would be: HTTP/1 and HTTP/2 (prior knowledge) on plain TCP, the
//! default keep-alive and request timeouts, idle keep-alive connections closed at a
//! graceful stop, no signal handling of its own. (The app's `AppConfig` is the default:
//! only URL generation, which no route uses, would read its host.)

use actix_server::Server;
use actix_service::{map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, ServiceResponse};
use actix_web::web;
use std::net::TcpListener;

use super::takeover::{self, SocketsHandle};
use super::{configure, cors, request_id, HttpState};

/// The HTTP server on `listener`, not yet running.
pub fn server(
    listener: TcpListener,
    workers: usize,
    state: web::Data<HttpState>,
    cors_origins: Vec<String>,
    sockets: SocketsHandle,
) -> std::io::Result<Server> {
    let addr = listener.local_addr()?;
    let builder = Server::build();
    let graceful = builder.graceful_shutdown_signal();
    let app = move || {
        actix_web::App::new()
            .wrap(actix_web::middleware::Condition::new(
                !cors_origins.is_empty(),
                cors::cors(&cors_origins),
            ))
            // Outermost: every request, refused ones too, gets its id.
            .wrap(actix_web::middleware::from_fn(request_id::middleware))
            .configure(configure(state.clone()))
            .into_factory()
            .map(ServiceResponse::map_into_boxed_body)
    };
    Ok(builder
        .workers(workers.max(1))
        .disable_signals()
        .shutdown_timeout(5)
        .listen("swarmdesk-http", listener, move || {
            let graceful = graceful.clone();
            actix_http::HttpService::build()
                .graceful_shutdown_signal(move || {
                    let graceful = graceful.clone();
                    async move { graceful.notified().await }
                })
                .local_addr(addr)
                .upgrade(takeover::service(app.clone(), sockets.clone()))
                .finish(map_config(
                    app().map_err(|e: actix_web::Error| e.error_response()),
                    |_| AppConfig::default(),
                ))
                .tcp()
        })?
        .run())
}
