//! The case text index, built when a text search first needs it: the subjects and
//! bodies gathered under the projections' lock, then opened and indexed on a blocking
//! thread off it, so neither writers nor other readers wait for the build
//! ([`crate::projection::text`]).

use super::Desk;
use crate::projection::text::vault_erasures;

/// Gives the build up if the search that started it goes away before it is installed
/// (its future dropped), so a later text search begins another.
struct Abandon<'a> {
    desk: &'a Desk,
    build: Option<u64>,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if let Some(build) = self.build {
            self.desk.projections.read().text().abandon(build);
        }
    }
}

impl Desk {
    /// Builds the case text index if it is neither built nor being built, and waits
    /// for it; a search while another builds it walks the listing as before. With a
    /// vault that cannot tell when keys are destroyed, no index is built.
    pub async fn prepare_text_index(&self) {
        let vault = self.vault.clone();
        let Some(erasures) = vault_erasures(vault.as_deref()) else {
            return;
        };
        let Some(build) = self.projections.read().begin_text_index(erasures) else {
            return;
        };
        let mut abandon = Abandon {
            desk: self,
            build: Some(build.number()),
        };
        let started = std::time::Instant::now();
        let built = tokio::task::spawn_blocking(move || build.run(vault.as_deref())).await;
        match built {
            Ok(Ok(built)) => {
                abandon.build = None;
                let now = vault_erasures(self.vault.as_deref());
                let p = self.projections.read();
                p.text().finish(built, now);
                if let Some(stats) = p.text().stats() {
                    tracing::info!(
                        cases = stats.cases,
                        bytes = stats.bytes,
                        ms = started.elapsed().as_millis() as u64,
                        "case text index built"
                    );
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "case text index not built"),
            Err(e) => tracing::error!(error = %e, "case text index build stopped"),
        }
    }
}
