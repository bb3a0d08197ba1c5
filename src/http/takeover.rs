//! WebSocket connections on threads of their own.
//!
//! actix's HTTP/1 dispatcher hands every request that asks for `Upgrade: websocket`
//! to the upgrade [`service`] together with its connection. The app answers it like
//! any other request (routes, middleware, the handler's checks); when the handler
//! accepts it, it answers `101 Switching Protocols` carrying an [`Accepted`], and the
//! connection leaves the HTTP worker: its socket moves to the [`Sockets`] runtime,
//! where the connection's task runs from then on. Any other answer is written back
//! and the connection closed.
//!
//! So the frames of thousands of subscribers are written on threads that serve no
//! HTTP request: a mutation's request is not queued behind each event's burst of
//! deliveries on the HTTP worker that reads it. On Linux those threads also run at a
//! lower CPU priority ([`DEFAULT_NICE`]), so that when the cores are busy a write's
//! request, commit and answer preempt the frames of earlier events rather than wait
//! for part of their burst.

use actix_codec::Framed;
use actix_http::body::BodySize;
use actix_http::{h1, HttpMessage, Request, StatusCode};
use actix_service::{Service, ServiceFactory};
use actix_web::body::BoxBody;
use actix_web::dev::{AppConfig, ServiceResponse};
use futures_util::future::BoxFuture;
use futures_util::SinkExt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// What runs a connection the app accepted, once it is on the [`Sockets`] runtime:
/// given its socket and the bytes the client already sent after its request.
pub struct Accepted(pub Box<dyn FnOnce(TcpStream, Vec<u8>) -> BoxFuture<'static, ()> + Send>);

/// Set on a request that came through the upgrade [`service`]: whether its
/// connection can be taken over. A request without it (HTTP/2) cannot become a
/// WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanTakeOver {
    Yes,
    /// The [`Sockets`] runtime holds as many connections as it may.
    Full,
}

/// The nice value the connections' threads run at by default: a tenth of the CPU
/// share of a thread at 0 when both want the same core, and nothing taken away when
/// the cores are otherwise idle.
pub const DEFAULT_NICE: i32 = 10;

/// The runtime the taken-over connections run on, and their tasks.
pub struct Sockets {
    runtime: Option<Runtime>,
    tasks: TaskTracker,
    slots: Arc<Semaphore>,
}

/// What the HTTP workers need to move a connection onto the [`Sockets`] runtime.
#[derive(Clone)]
pub struct SocketsHandle {
    runtime: Handle,
    tasks: TaskTracker,
    /// One permit per connection the runtime may still take: a connection holds
    /// its permit from its upgrade request until it ends. Once taken over, a
    /// connection no longer counts against the HTTP workers' own cap, so this is
    /// what bounds them (below the process's file limit).
    slots: Arc<Semaphore>,
}

impl Sockets {
    /// A runtime of `threads` threads named `swarmdesk-ws`, for at most
    /// `max_connections` connections at once, each thread at nice `nice`, or at the
    /// nice it inherits from the thread that starts it if that is higher (Linux;
    /// elsewhere at the inherited priority).
    pub fn start(threads: usize, max_connections: usize, nice: i32) -> std::io::Result<Sockets> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("swarmdesk-ws")
            .on_thread_start(move || lower_priority(nice))
            .enable_all()
            .build()?;
        Ok(Sockets {
            runtime: Some(runtime),
            tasks: TaskTracker::new(),
            slots: Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS))),
        })
    }

    pub fn handle(&self) -> SocketsHandle {
        SocketsHandle {
            runtime: self
                .runtime
                .as_ref()
                .expect("the runtime lives until stop")
                .handle()
                .clone(),
            tasks: self.tasks.clone(),
            slots: self.slots.clone(),
        }
    }

    /// Waits up to `grace` for the connections to end (they close on the server's
    /// shutdown signal), then drops whatever still runs (dropping `self` shuts the
    /// runtime down), so that a client that stopped reading cannot hold the stop up.
    pub async fn stop(self, grace: Duration) {
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                connections = self.tasks.len(),
                "WebSocket connections still open at shutdown; closing them"
            );
        }
    }
}

impl Drop for Sockets {
    /// Without waiting: a runtime may not block while it is dropped in async code.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Puts the calling thread at nice `nice` unless it already runs at that or lower
/// priority. Raising a thread's nice needs no privilege; failing is logged, not fatal.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) {
    if thread_nice() >= nice {
        return;
    }
    // SAFETY: a plain system call on the calling thread (`who == 0`, see
    // [`thread_nice`]); no memory is passed.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
        tracing::warn!(
            nice,
            error = %std::io::Error::last_os_error(),
            "could not lower the priority of a WebSocket connections' thread"
        );
    }
}

/// The calling thread's nice value. On Linux `PRIO_PROCESS` with `who == 0` names
/// the calling thread only (each thread has its own nice value), not the process.
#[cfg(target_os = "linux")]
fn thread_nice() -> i32 {
    // SAFETY: a plain system call on the calling thread; no memory is passed.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) {}

/// The upgrade service of one HTTP worker: `app` is a factory of the same app the
/// worker serves.
pub fn service<F, S>(
    app: F,
    sockets: SocketsHandle,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
>
where
    F: Fn() -> S + Clone + 'static,
    S: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = ServiceResponse<BoxBody>,
            Error = actix_web::Error,
        > + 'static,
    S::InitError: std::fmt::Debug,
{
    actix_service::fn_factory(move || {
        let factory = app();
        let sockets = sockets.clone();
        async move {
            let app = factory
                .new_service(AppConfig::default())
                .await
                .map_err(|e| tracing::error!(error = ?e, "the upgrade service did not start"))?;
            let app = Rc::new(app);
            Ok(actix_service::fn_service(
                move |(req, framed): (Request, Framed<TcpStream, h1::Codec>)| {
                    hand_over(app.clone(), sockets.clone(), req, framed)
                },
            ))
        }
    })
}

/// Answers an upgrade request through the app; moves the connection to the
/// [`Sockets`] runtime if the app accepted it, else writes the answer and closes.
async fn hand_over<S>(
    app: Rc<S>,
    sockets: SocketsHandle,
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), actix_web::Error>
where
    S: Service<Request, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    // Taken before the app answers, so that racing upgrades cannot both get the
    // last one; released when the connection ends (or now, if it is refused).
    let slot = sockets.slots.clone().try_acquire_owned().ok();
    req.extensions_mut().insert(if slot.is_some() {
        CanTakeOver::Yes
    } else {
        CanTakeOver::Full
    });
    let response: actix_web::HttpResponse = match app.call(req).await {
        Ok(res) => res.into_parts().1,
        Err(e) => e.error_response(),
    };
    let mut response = actix_http::Response::from(response);
    let accepted = response.extensions_mut().remove::<Accepted>();
    let (mut head, body) = response.into_parts();
    match accepted {
        Some(accepted) if head.status() == StatusCode::SWITCHING_PROTOCOLS && slot.is_some() => {
            framed
                .send(h1::Message::Item((head, BodySize::None)))
                .await?;
            let parts = framed.into_parts();
            let leftover = parts.read_buf.to_vec();
            let socket = parts.io.into_std()?;
            let SocketsHandle { runtime, tasks, .. } = sockets;
            runtime.spawn(tasks.track_future(async move {
                let _slot = slot;
                match TcpStream::from_std(socket) {
                    Ok(socket) => {
                        // Each update goes out as soon as it is written (measured: with
                        // Nagle's algorithm deliveries wait for the previous ones' ACKs).
                        let _ = socket.set_nodelay(true);
                        (accepted.0)(socket, leftover).await
                    }
                    Err(e) => tracing::warn!(error = %e, "could not take the connection over"),
                }
            }));
        }
        _ => {
            let body = actix_web::body::to_bytes(body)
                .await
                .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
            head.head_mut()
                .set_connection_type(actix_http::ConnectionType::Close);
            framed
                .send(h1::Message::Item((
                    head,
                    BodySize::Sized(body.len() as u64),
                )))
                .await?;
            if !body.is_empty() {
                framed.send(h1::Message::Chunk(Some(body))).await?;
            }
            framed.send(h1::Message::Chunk(None)).await?;
        }
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of a thread of `sockets`' runtime.
    fn nice_of_runtime_thread(sockets: &Sockets) -> i32 {
        let (tx, rx) = std::sync::mpsc::channel();
        sockets.handle().runtime.spawn(async move {
            let _ = tx.send(thread_nice());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the runtime runs the task")
    }

    #[test]
    fn connections_threads_run_at_the_nice_asked_never_higher_priority_than_the_process() {
        let own = thread_nice();
        let lowered = Sockets::start(1, 1, DEFAULT_NICE).unwrap();
        assert_eq!(nice_of_runtime_thread(&lowered), DEFAULT_NICE.max(own));
        let plain = Sockets::start(1, 1, 0).unwrap();
        assert_eq!(nice_of_runtime_thread(&plain), own);
        // The thread that started them keeps its own priority.
        assert_eq!(thread_nice(), own);
    }
}
