//! Measures GraphQL operations for `/metrics`: latency by operation type (a bounded
//! label: query, mutation, subscription, invalid; never the operation's text) and the
//! number of subscriptions running now. An async-graphql extension, one instance per
//! request: `parse_query` learns the operation's type, `request` times queries and
//! mutations (over HTTP), `subscribe` times everything sent over a WebSocket until its
//! first message and holds a subscription in the gauge until its stream is dropped.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextSubscribe,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerResult, Variables};
use futures_util::stream::{BoxStream, Stream};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::metrics::{Metrics, OperationKind};

/// The extension factory, registered on the served schema.
pub struct Measure(pub Arc<Metrics>);

impl ExtensionFactory for Measure {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MeasureExtension {
            metrics: self.0.clone(),
            kind: Arc::new(AtomicU8::new(UNKNOWN)),
            name: Mutex::new(None),
        })
    }
}

const UNKNOWN: u8 = 0;
const QUERY: u8 = 1;
const MUTATION: u8 = 2;
const SUBSCRIPTION: u8 = 3;

fn kind_of(code: u8) -> OperationKind {
    match code {
        QUERY => OperationKind::Query,
        MUTATION => OperationKind::Mutation,
        SUBSCRIPTION => OperationKind::Subscription,
        _ => OperationKind::Invalid,
    }
}

/// The type of the operation a request runs: the named one, or the only one.
fn operation_type(doc: &ExecutableDocument, name: Option<&str>) -> u8 {
    let ty = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    };
    match ty {
        Some(OperationType::Query) => QUERY,
        Some(OperationType::Mutation) => MUTATION,
        Some(OperationType::Subscription) => SUBSCRIPTION,
        None => UNKNOWN,
    }
}

struct MeasureExtension {
    metrics: Arc<Metrics>,
    /// Set once the document is parsed; shared with the subscription's stream.
    kind: Arc<AtomicU8>,
    /// The request's operation name, if it gave one.
    name: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Extension for MeasureExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let kind = kind_of(self.kind.load(Ordering::Acquire));
        let seconds = started.elapsed().as_secs_f64();
        self.metrics.observe_operation(kind, seconds);
        tracing::debug!(
            operation = kind.label(),
            micros = (seconds * 1e6) as u64,
            errors = response.errors.len(),
            "graphql operation"
        );
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        Box::pin(Measured {
            inner: next.run(ctx, stream),
            metrics: self.metrics.clone(),
            kind: self.kind.clone(),
            started: Instant::now(),
            timed: false,
            counted: false,
        })
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Some(name) = &request.operation_name {
            let mut slot = self.name.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some(name.clone());
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let ty = {
            let name = self.name.lock().unwrap_or_else(|p| p.into_inner());
            operation_type(&doc, name.as_deref())
        };
        self.kind.store(ty, Ordering::Release);
        Ok(doc)
    }
}

/// A response stream that times its first message and counts a running subscription.
struct Measured<'s> {
    inner: BoxStream<'s, Response>,
    metrics: Arc<Metrics>,
    kind: Arc<AtomicU8>,
    started: Instant,
    /// Whether the first message was timed.
    timed: bool,
    /// Whether this stream is in the subscriptions gauge.
    counted: bool,
}

impl Stream for Measured<'_> {
    type Item = Response;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Response>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_next(cx);
        // The document is parsed during the first poll.
        let kind = kind_of(this.kind.load(Ordering::Acquire));
        if !this.counted && kind == OperationKind::Subscription {
            this.counted = true;
            this.metrics.subscriptions.inc();
        }
        if !this.timed && matches!(polled, Poll::Ready(_)) {
            this.timed = true;
            let seconds = this.started.elapsed().as_secs_f64();
            this.metrics.observe_operation(kind, seconds);
            tracing::debug!(
                operation = kind.label(),
                micros = (seconds * 1e6) as u64,
                "graphql operation over WebSocket: first message"
            );
        }
        polled
    }
}

impl Drop for Measured<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.metrics.subscriptions.dec();
        }
    }
}
