//! Resuming after a failed write: the recovery thread at once releases the space
//! reserve and reopens sled for reads (without a writer), then probes the disk with
//! backoff and, once the reserve is back and the probe succeeds, reopens sled with a
//! writer.

use super::*;

/// Bytes the recovery probe writes and syncs before it reopens sled.
pub(super) const PROBE_BYTES: usize = 1024 * 1024;
/// Writes and syncs a small file in `dir`, then removes it: can the disk take writes?
pub(super) fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("write-probe");
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

impl Core {
    /// Opens sled and, if `writes`, starts a writer on it; on success `slot` holds
    /// the new open.
    pub(super) fn install(
        &self,
        slot: &mut Option<Arc<Shared>>,
        fence: Option<u64>,
        writes: bool,
    ) -> Result<(), StoreError> {
        let (shared, head) = open_shared(&self.dir, &self.options, &self.common, fence)?;
        let shared = Arc::new(shared);
        self.common.head.store(head, Ordering::Release);
        if !writes {
            *slot = Some(shared);
            return Ok(());
        }
        let last_link = chain::last_link(&shared.log)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer_shared = shared.clone();
        let index_every = self.options.index_every.max(1);
        let writer = std::thread::Builder::new()
            .name("swarmdesk-writer".into())
            .spawn(move || Writer::new(writer_shared, head, last_link, index_every).run(rx))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        *slot = Some(shared);
        *lock(&self.jobs) = Some(tx);
        *lock(&self.writer) = Some(writer);
        Ok(())
    }

    pub(super) fn stop_writer(&self) {
        // Dropping the sender lets the writer drain what is queued, then exit.
        lock(&self.jobs).take();
        let handle = lock(&self.writer).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// After a failed write: waits (with backoff) until the disk takes writes again,
    /// then reopens sled, rolled back to what was acknowledged. Returns when closed.
    pub(super) fn recover(&self) {
        let common = &self.common;
        let mut delay = self.options.retry_first;
        loop {
            {
                let mut status = lock(&common.status);
                while !status.closed && status.refusing.is_none() {
                    status = common.wake.wait(status).unwrap_or_else(|p| p.into_inner());
                }
                if status.closed {
                    return;
                }
            }
            if self.failed_open_installed() {
                // At once: reads on the failed open may fail (see `reserve`).
                self.reopen_for_reads();
            }
            {
                let status = lock(&common.status);
                let (status, _) = common
                    .wake
                    .wait_timeout_while(status, delay, |s| !s.closed)
                    .unwrap_or_else(|p| p.into_inner());
                if status.closed {
                    return;
                }
            }
            match self.resume() {
                Ok(head) => {
                    info!(head, "the store writes again");
                    delay = self.options.retry_first;
                }
                Err(e) => {
                    delay = (delay * 2).min(self.options.retry_max.max(self.options.retry_first));
                    warn!(error = %e, retry_in = ?delay, "the store still cannot write");
                }
            }
        }
    }

    /// Whether the current open of sled is one on which writes failed.
    fn failed_open_installed(&self) -> bool {
        self.current
            .blocking_read()
            .as_ref()
            .is_some_and(|s| s.is_failed_open())
    }

    /// Replaces the failed open of sled by a new one without a writer, rolled back to
    /// what was acknowledged, after releasing the space reserve for what the open and
    /// the reads on it write. Writes stay refused. On failure no open is left
    /// (readers get `Unavailable`) until writes resume.
    fn reopen_for_reads(&self) {
        reserve::release(&self.dir);
        match self.replace_open(true, false) {
            Ok(()) => info!(
                head = self.common.head.load(Ordering::Acquire),
                "reopened the store for reads; writes stay refused"
            ),
            Err(e) => error!(error = %e, "cannot reopen the store for reads"),
        }
    }

    /// Stops the writer (it answers what is queued), waits for readers to leave, drops
    /// the open of sled and installs a new one, with a writer if `writes`, rolled back
    /// to the head the stopped writer left if `fence_at_head`. Readers waiting for a
    /// reopen are woken either way. On failure no open is left (readers get
    /// `Unavailable`). The recovery after a failed write and `release` reopen here.
    pub(super) fn replace_open(&self, fence_at_head: bool, writes: bool) -> Result<(), StoreError> {
        self.stop_writer();
        // The writer and its flusher have ended: from here on the head is final.
        let fence = fence_at_head.then(|| self.common.head.load(Ordering::Acquire));
        let mut slot = self.current.blocking_write();
        // Nobody else holds this open of sled now: readers wait for the lock.
        // Dropping it releases sled's lock; sled's background threads may hold the
        // old open for a moment, so opening waits for its lock (`open::LOCK_WAIT`).
        slot.take();
        let installed = self.install(&mut slot, fence, writes);
        drop(slot);
        self.common.reopened.notify_waiters();
        installed
    }

    /// One try at resuming writes; returns the head it resumed at. The space reserve
    /// is written first, then the probe: writes resume only with the reserve in place.
    pub(super) fn resume(&self) -> Result<u64, StoreError> {
        reserve::ensure(&self.dir)
            .map_err(|e| StoreError::Io(format!("writing the space reserve: {e}")))?;
        probe(&self.dir).map_err(|e| StoreError::Io(format!("write probe: {e}")))?;
        // The failed writer refuses what is queued, and its flusher has answered
        // everything. On failure, stay without an open; the next try opens.
        self.replace_open(true, true)?;
        let resumed = self.common.head.load(Ordering::Acquire);
        self.common.failed.store(false, Ordering::Release);
        lock(&self.common.status).refusing = None;
        Ok(resumed)
    }
}
