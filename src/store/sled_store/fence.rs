//! The full-disk fence: the file recording the last acknowledged position after a
//! failed write, and the roll-back that every open applies (removing whatever the disk
//! holds after the fence).

use super::*;

/// The file holding the fence: the last acknowledged position when writes failed, or
/// `u64::MAX` when none did (see the module documentation).
pub const FENCE_FILE: &str = "refused-after";
pub(super) const NO_FENCE: u64 = u64::MAX;

pub(super) fn write_fence_value(f: &mut std::fs::File, value: u64) -> std::io::Result<()> {
    f.seek(std::io::SeekFrom::Start(0))?;
    f.write_all(&value.to_be_bytes())?;
    f.sync_data()
}

/// Opens (creating it if need be) the fence file and reads it.
pub(super) fn open_fence(dir: &Path) -> Result<(std::fs::File, u64), StoreError> {
    let path = dir.join(FENCE_FILE);
    let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(io)?;
    let value = match <[u8; 8]>::try_from(bytes.as_slice()) {
        Ok(b) => u64::from_be_bytes(b),
        // New (or cut short while being created, before any write was refused).
        Err(_) => {
            write_fence_value(&mut f, NO_FENCE).map_err(io)?;
            NO_FENCE
        }
    };
    Ok((f, value))
}

/// Removes everything stored after position `fence`: the events (pages), the
/// idempotency keys whose result lies after it, and the stream index's entries after
/// it. Nothing after the fence was acknowledged (see the module documentation).
pub(super) fn roll_back_after(log: &sled::Tree, fence: u64) -> Result<(), StoreError> {
    let head = last_position(log)?;
    let mut batch = sled::Batch::default();
    let mut removed = 0u64;
    // A page holding the fence and later positions keeps only what is at or before it
    // (it keeps its key: its first record is at or before the fence).
    if let Some(kv) = log.range(keys::event(0)..=keys::event(fence)).next_back() {
        let (k, value) = kv?;
        let total = page::records(&value).count();
        let mut kept = Vec::new();
        // A page that does not decode is left as it is (the integrity check reports it).
        let decoded = scan_page(&value, fence, |position, record| {
            kept.push((position, record.to_vec()))
        });
        if decoded.is_err() {
            kept.clear();
        }
        if decoded.is_ok() && kept.len() < total {
            removed += (total - kept.len()) as u64;
            batch.remove(k.to_vec());
            let mut pages = Pages::default();
            for (position, record) in &kept {
                pages.push(&mut batch, *position, record);
            }
            pages.close(&mut batch);
            // The keys the page carried for what it keeps get entries of their own.
            for (key, value) in page::carried_keys(&value).unwrap_or_default() {
                let kept_result =
                    decode_result(&value).is_ok_and(|r| r.outcome.last_position <= fence);
                if kept_result {
                    batch.insert(key, value);
                }
            }
        }
    }
    for kv in log.range(keys::event(fence.saturating_add(1))..=keys::event(u64::MAX)) {
        let (k, value) = kv?;
        removed += page::records(&value).count() as u64;
        batch.remove(&k);
    }
    for kv in log.scan_prefix([keys::IDEMPOTENCY]) {
        let (k, v) = kv?;
        if let Ok(r) = postcard::from_bytes::<IdempotentResult>(&v) {
            if r.outcome.last_position > fence {
                batch.remove(&k);
            }
        }
    }
    for kv in log.scan_prefix([keys::STREAM]) {
        let (k, run) = kv?;
        let keep = (0..run.len() / 8)
            .take_while(|&i| keys::u64_suffix(&run[i * 8..i * 8 + 8]) <= fence)
            .count();
        if keep == 0 {
            batch.remove(&k);
        } else if keep < run.len() / 8 {
            batch.insert(&k, &run[..keep * 8]);
        }
    }
    if let Some(v) = log.get(keys::INDEXED)? {
        if keys::u64_suffix(&v) > fence {
            batch.insert(&keys::INDEXED, &fence.to_be_bytes());
        }
    }
    log.apply_batch(batch)?;
    if head > fence || removed > 0 {
        warn!(
            fence,
            head_on_disk = head,
            removed,
            "removed refused writes that had reached the disk"
        );
    }
    Ok(())
}
