//! Personal fields opened in every answer: an async-graphql extension that replaces
//! each sealed string in a response (queries and mutations over HTTP, everything over
//! a WebSocket) by its clear text, or the erased marker once its customer was
//! forgotten ([`crate::shred`]). Read models and payloads keep fields sealed; no
//! resolver opens them, so none can forget to.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextSubscribe,
};
use async_graphql::{Response, Value};
use futures_util::stream::{BoxStream, StreamExt};
use std::sync::Arc;

use crate::shred::Vault;

/// The extension factory, registered on every schema whose desk has a vault.
pub struct OpenPersonal(pub Arc<Vault>);

impl ExtensionFactory for OpenPersonal {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OpenExtension(self.0.clone()))
    }
}

struct OpenExtension(Arc<Vault>);

fn open_value(vault: &Vault, value: &mut Value) {
    match value {
        Value::String(s) => vault.open_in_place(s),
        Value::List(items) => items.iter_mut().for_each(|v| open_value(vault, v)),
        Value::Object(fields) => fields.values_mut().for_each(|v| open_value(vault, v)),
        _ => {}
    }
}

fn opened(vault: &Vault, mut response: Response) -> Response {
    open_value(vault, &mut response.data);
    response
}

#[async_trait::async_trait]
impl Extension for OpenExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        opened(&self.0, next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let vault = self.0.clone();
        next.run(ctx, stream)
            .map(move |r| opened(&vault, r))
            .boxed()
    }
}
