//! The vault: the key store with the master key in use, the one place that seals a
//! customer's field and opens any sealed field found in the log, a projection or an
//! answer. Data keys read once are kept in memory: with key files in `DATA/keys/`,
//! which no other process uses (the store holds the data directory locked), until
//! forgotten through this vault; with key files in a `SWARMDESK_KEYS_DIR` several
//! nodes may share, while their file stays the same (checked on every use, so a key
//! destroyed by another node is gone here too); with keys in PostgreSQL, until the
//! node sees the customer forgotten on its live feed ([`super::follow`] calls
//! [`Vault::evict`]).
//! [`Vault::forget`] drops a customer's key from memory and destroys the stored one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::keys::{DataKey, FileKeys, KeyStamp, KeyStore, MasterKey, MasterSource, KEYS_DIR};
use super::seal::{is_sealed, seal, Sealed};
use super::ShredError;

/// What a sealed field reads as when it cannot be opened although its key exists
/// (a damaged or forged field); logged as a warning.
pub const UNREADABLE: &str = "[unreadable]";

/// The customers' data keys of one data directory, and the master key they are
/// wrapped with.
pub struct Vault {
    keys: KeyStore,
    source: MasterSource,
    cache: RwLock<HashMap<String, (Arc<DataKey>, KeyStamp)>>,
    /// Held while a key is made, so concurrent first writes for one customer share it.
    making: std::sync::Mutex<()>,
    /// Counts evictions and keys destroyed here: a key read while one happened is not
    /// cached (it may be the key just forgotten, read before its row was deleted).
    /// Also what [`erasures`](Self::erasures) tells.
    evictions: AtomicU64,
    /// Whether keys read from the database may be cached: false once the live feed
    /// that evicts them is lost.
    cache_rows: AtomicBool,
    /// The task that evicts forgotten customers' keys ([`super::follow`]), stopped
    /// with the vault.
    pub(super) follower: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Vault {
    fn drop(&mut self) {
        if let Some(task) = self
            .follower
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// The vault of the data directory `data`: its keys in `SWARMDESK_KEYS_DIR` if
    /// `env` gives it (a directory several nodes share), else in `data/keys`; its
    /// master key from the variables `env` gives ([`MasterKey::load_in`]). Refused
    /// when the master key is not the one the keys were made with.
    pub fn load(data: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ShredError> {
        let shared_dir = env("SWARMDESK_KEYS_DIR").filter(|d| !d.trim().is_empty());
        let shared = shared_dir.is_some();
        let dir = shared_dir.map_or_else(|| data.join(KEYS_DIR), std::path::PathBuf::from);
        let (master, source) = MasterKey::load_in(&dir, env)?;
        Ok(Self::with(
            KeyStore::Files(FileKeys::open_dir(dir, master)?.shared(shared)),
            source,
        ))
    }

    /// The vault of nodes whose log is in the PostgreSQL database at `url`: the keys
    /// in its `data_keys` table, the master key from the variables `env` gives (or,
    /// with none, the development key kept in the database for every node). Refused
    /// when the master key is not the one the database's keys were made with.
    pub fn load_postgres(
        url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ShredError> {
        let (keys, source) = super::pg_keys::PgKeys::connect(url, MasterKey::configured(env)?)?;
        Ok(Self::with(KeyStore::Postgres(keys), source))
    }

    /// Copies the data keys of the data directory `data` (its `keys` directory, or
    /// `SWARMDESK_KEYS_DIR`) into the PostgreSQL database at `url`, as they are
    /// (wrapped): the database's keys must be wrapped by the same master key (the
    /// configured one, or the directory's development key, which the database takes
    /// as its own if it has none). Keys the database has already are kept. Returns how
    /// many key files there were.
    pub fn copy_keys_to_postgres(
        data: &Path,
        url: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<usize, ShredError> {
        let dir = env("SWARMDESK_KEYS_DIR")
            .filter(|d| !d.trim().is_empty())
            .map_or_else(|| data.join(KEYS_DIR), std::path::PathBuf::from);
        let (master, source) = MasterKey::load_in(&dir, &env)?;
        let files = FileKeys::open_dir(dir.clone(), master)?.wrapped_files()?;
        let (master, _) = MasterKey::load_in(&dir, &env)?;
        let (keys, _) = match source {
            MasterSource::Development(_) => {
                super::pg_keys::PgKeys::connect_with(url, None, master)?
            }
            source => super::pg_keys::PgKeys::connect(url, Some((master, source)))?,
        };
        let copied = files.len();
        for (name, wrapped) in files {
            keys.put_wrapped(&name, wrapped)?;
        }
        Ok(copied)
    }

    fn with(keys: KeyStore, source: MasterSource) -> Self {
        Vault {
            keys,
            source,
            cache: RwLock::default(),
            making: std::sync::Mutex::new(()),
            evictions: AtomicU64::new(0),
            cache_rows: AtomicBool::new(true),
            follower: std::sync::Mutex::new(None),
        }
    }

    /// [`Vault::load`] with the process environment.
    pub fn from_env(data: &Path) -> Result<Self, ShredError> {
        Self::load(data, |name| std::env::var(name).ok())
    }

    /// Where the master key came from.
    pub fn source(&self) -> &MasterSource {
        &self.source
    }

    /// The customer's data key (made first with `create`), `None` when there is none.
    /// The stored key is stamped once per use (a shared key file: one `stat`), before it is
    /// read, so a key is cached with the stamp of the file it was read from or of one
    /// before it (then the next use reads it again), never of a later one; the stamp
    /// is taken again only after a key is made.
    fn key(&self, customer: &str, create: bool) -> Result<Option<Arc<DataKey>>, ShredError> {
        let evictions = self.evictions.load(Ordering::SeqCst);
        let stamp = self.keys.stamp(customer)?;
        match stamp {
            Some(stamp) => {
                let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
                if let Some((key, _)) = cache.get(customer).filter(|(_, s)| *s == stamp) {
                    return Ok(Some(key.clone()));
                }
            }
            // No stored key (never made, or destroyed): nothing to read.
            None if !create => {
                self.cache
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(customer);
                return Ok(None);
            }
            None => {}
        }
        let _making = create.then(|| self.making.lock().unwrap_or_else(|p| p.into_inner()));
        let key = if create {
            Some(self.keys.get_or_create(customer)?)
        } else {
            self.keys.get(customer)?
        };
        let stamp = match stamp {
            Some(stamp) => Some(stamp),
            None => self.keys.stamp(customer)?,
        };
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        let (Some(key), Some(stamp)) = (key.map(Arc::new), stamp) else {
            cache.remove(customer);
            return Ok(None);
        };
        let cacheable = stamp != KeyStamp::Row || self.cache_rows.load(Ordering::SeqCst);
        if cacheable && self.evictions.load(Ordering::SeqCst) == evictions {
            cache.insert(customer.to_string(), (key.clone(), stamp));
        }
        Ok(Some(key))
    }

    /// `text` sealed with `customer`'s data key (made on first use). Empty text stays
    /// empty; text already sealed for this customer (a directory entry copied into a
    /// case) stays as it is; anything else that merely looks sealed is sealed again.
    pub fn seal(&self, customer: &str, text: &str) -> Result<String, ShredError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        if is_sealed(text) {
            if let Some(Ok(s)) = Sealed::parse(text) {
                if s.customer == customer {
                    return Ok(text.to_string());
                }
            }
        }
        let key = self.key(customer, true)?.ok_or(ShredError::Damaged)?;
        seal(&key, customer, text)
    }

    /// `text` in clear: itself if not sealed, [`super::ERASED`] once its customer's
    /// key is destroyed, [`UNREADABLE`] if it does not open although the key exists.
    pub fn open<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Some(sealed) = Sealed::parse(text) else {
            return Cow::Borrowed(text);
        };
        let opened = sealed.and_then(|s| {
            let key = self.key(&s.customer, false)?;
            s.open(key.as_deref())
        });
        match opened {
            Ok(clear) => Cow::Owned(clear),
            Err(e) => {
                tracing::warn!(error = %e, "a sealed field does not open");
                Cow::Borrowed(UNREADABLE)
            }
        }
    }

    /// Opens `text` in place.
    pub fn open_in_place(&self, text: &mut String) {
        if is_sealed(text) {
            *text = self.open(text).into_owned();
        }
    }

    /// Whether the customer has a data key.
    pub fn has_key(&self, customer: &str) -> Result<bool, ShredError> {
        Ok(self.key(customer, false)?.is_some())
    }

    /// Drops the customer's key from memory (it was forgotten through another node):
    /// the next use reads the key store again.
    pub fn evict(&self, customer: &str) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        self.evictions.fetch_add(1, Ordering::SeqCst);
        cache.remove(customer);
    }

    /// Drops every cached key read from the database and caches none from now on
    /// (the feed that says which to evict is lost): every use reads the key's row.
    pub fn stop_caching_rows(&self) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        self.cache_rows.store(false, Ordering::SeqCst);
        self.evictions.fetch_add(1, Ordering::SeqCst);
        cache.retain(|_, (_, stamp)| *stamp != KeyStamp::Row);
    }

    /// Destroys the customer's data key (in memory and where it is stored): every field sealed
    /// with it reads [`super::ERASED`] from now on. Returns whether there was one.
    pub fn forget(&self, customer: &str) -> Result<bool, ShredError> {
        // Under the cache's lock throughout: a use that read the key before it was
        // destroyed then either caches it before (and it is removed here) or finds
        // the count of evictions changed and does not cache it (a key file no other
        // process uses is not checked again).
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.remove(customer);
        let destroyed = self.keys.destroy(customer);
        self.evictions.fetch_add(1, Ordering::SeqCst);
        drop(cache);
        destroyed
    }

    /// A number that changes whenever a key may have been destroyed (forgotten here,
    /// or evicted as another node forgot it), for whatever holds fields opened in
    /// clear and must drop them then (the case text index). `None` once the vault
    /// cannot tell (its live feed lost): then nothing opened may be kept.
    pub fn erasures(&self) -> Option<u64> {
        self.cache_rows
            .load(Ordering::SeqCst)
            .then(|| self.evictions.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shred::ERASED;

    #[test]
    fn sealed_fields_open_until_the_customer_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::load(dir.path(), |_: &str| None).unwrap();
        let name = vault.seal("globex", "Hank Scorpio").unwrap();
        let other = vault.seal("initech", "Bill Lumbergh").unwrap();
        assert!(is_sealed(&name) && !name.contains("Scorpio"));
        assert_eq!(vault.seal("globex", &name).unwrap(), name, "kept as sealed");
        assert_ne!(vault.seal("initech", &name).unwrap(), name, "not initech's");
        assert_eq!(vault.seal("globex", "").unwrap(), "");
        assert_eq!(vault.open(&name), "Hank Scorpio");
        assert!(vault.forget("globex").unwrap());
        assert!(!vault.has_key("globex").unwrap());
        assert_eq!(vault.open(&name), ERASED);
        assert_eq!(vault.open(&other), "Bill Lumbergh");
        // A new process reads the same: the key is gone from disk too.
        let again = Vault::load(dir.path(), |_: &str| None).unwrap();
        assert_eq!(again.open(&name), ERASED);
        assert_eq!(again.open(&other), "Bill Lumbergh");
        assert_eq!(again.open("sealed:v1:bad"), UNREADABLE);
    }

    /// Two vaults (two nodes), each with a data directory of its own, and one keys
    /// directory (`SWARMDESK_KEYS_DIR`) for both; the directories are returned with them.
    fn two_nodes_sharing_keys() -> ([tempfile::TempDir; 3], Vault, Vault) {
        let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
        let shared = dirs[2].path().display().to_string();
        let env = |name: &str| (name == "SWARMDESK_KEYS_DIR").then(|| shared.clone());
        let a = Vault::load(dirs[0].path(), env).unwrap();
        let b = Vault::load(dirs[1].path(), env).unwrap();
        (dirs, a, b)
    }

    #[test]
    fn a_key_forgotten_by_another_node_sharing_the_keys_is_gone_here_too() {
        let (data, a, b) = two_nodes_sharing_keys();
        let sealed = a.seal("globex", "Hank Scorpio").unwrap();
        assert_eq!(b.open(&sealed), "Hank Scorpio", "b reads a's key");
        assert!(!data[0].path().join(KEYS_DIR).exists());
        assert!(a.forget("globex").unwrap());
        assert_eq!(
            b.open(&sealed),
            ERASED,
            "b's cached key is gone with the file"
        );
        // A new key made by b is read by a, and does not open the old field.
        let fresh = b.seal("globex", "new").unwrap();
        assert_eq!(a.open(&fresh), "new");
        assert_eq!(a.open(&sealed), ERASED);
    }

    #[test]
    fn a_key_made_anew_by_another_node_replaces_the_one_cached_here() {
        let (_dirs, a, b) = two_nodes_sharing_keys();
        let old = a.seal("globex", "Hank Scorpio").unwrap();
        assert_eq!(b.open(&old), "Hank Scorpio", "b holds the first key");
        // a forgets the customer and makes a new key at once; b has not looked since.
        assert!(a.forget("globex").unwrap());
        let fresh = a.seal("globex", "new").unwrap();
        assert_eq!(
            b.open(&fresh),
            "new",
            "b reads the new key, not its cached one"
        );
        assert_eq!(b.open(&old), ERASED);
        let from_b = b.seal("globex", "from b").unwrap();
        assert_eq!(a.open(&from_b), "from b", "b seals with the new key");
    }

    #[test]
    fn first_writes_at_once_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let vaults: Vec<Vault> = (0..2)
            .map(|_| Vault::load(dir.path(), |_: &str| None).unwrap())
            .collect();
        // Two processes (two vaults) and several threads seal for a new customer at once.
        let sealed: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let v = &vaults[i % 2];
                    s.spawn(move || v.seal("globex", &format!("field {i}")).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let fresh = Vault::load(dir.path(), |_: &str| None).unwrap();
        for (i, s) in sealed.iter().enumerate() {
            assert_eq!(fresh.open(s), format!("field {i}"));
        }
        let names: Vec<_> = std::fs::read_dir(dir.path().join(super::super::keys::KEYS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    }

    #[test]
    fn a_key_in_the_data_directory_is_read_once_and_dropped_when_forgotten_here() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::load(dir.path(), |_: &str| None).unwrap();
        let sealed = vault.seal("globex", "kept").unwrap();
        // No other process uses `DATA/keys/`: the file is not read or checked again,
        // so a change behind the vault's back does not reach it...
        let keys = dir.path().join(KEYS_DIR);
        for entry in std::fs::read_dir(&keys).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "key") {
                std::fs::write(&path, b"not a key").unwrap();
            }
        }
        assert_eq!(vault.open(&sealed), "kept");
        // ...and forgetting through it drops the key at once.
        assert!(vault.forget("globex").unwrap());
        assert_eq!(vault.open(&sealed), ERASED);
        let resealed = vault.seal("globex", "new").unwrap();
        assert_eq!(vault.open(&resealed), "new");
        assert_eq!(vault.open(&sealed), ERASED);
    }
}
