//! The key store: one random data key per customer, wrapped by the master key, kept
//! outside the log so that it can be destroyed. [`KeyStore`] is either of two
//! places: one file per key under `DATA/keys/` ([`FileKeys`], the embedded store's),
//! or one row per key in the PostgreSQL database that holds the log
//! ([`super::pg_keys::PgKeys`], shared by every node on it). Both hold the same bytes
//! and refuse another master key at once (a check sealed with the first one).
//!
//! A key file is named by the hex SHA-256 of the customer id (a file name says
//! nothing about whom it is for) and holds a random key id (16 bytes), then the data
//! key sealed with the master key (a 12-byte nonce, then ChaCha20-Poly1305 of the
//! 32 key bytes with the customer id as associated data). [`KeyStore::destroy`]
//! overwrites the file with zeros, syncs it, removes it and syncs the directory: on a
//! file system that overwrites in place (ext4, xfs) the key's bytes are gone; on a
//! copy-on-write or log-structured one (btrfs, zfs, an SSD's own remapping) the old
//! blocks may survive until reused, and backups keep what they copied.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

use super::ShredError;

/// Bytes of a key (data or master).
pub const KEY_BYTES: usize = 32;
/// Bytes of a key id.
pub const ID_BYTES: usize = 16;
/// Bytes of a nonce.
pub const NONCE_BYTES: usize = 12;

/// The directory of the key store inside the data directory.
pub const KEYS_DIR: &str = "keys";
/// The development master key's file, made when no master key is configured.
pub const DEV_MASTER_FILE: &str = "master.key";
/// A constant sealed with the master key when the key store is first opened: a later
/// start with another master key is refused at once, not at the first key it reads.
pub const MASTER_CHECK_FILE: &str = "master.check";
const MASTER_CHECK: &[u8] = b"swarmdesk master key check v1";

fn random<const N: usize>() -> Result<[u8; N], ShredError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| ShredError::Io(format!("no randomness: {e}")))?;
    Ok(bytes)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ShredError + '_ {
    move |e| ShredError::Io(format!("{}: {e}", path.display()))
}

/// The key that wraps every data key.
pub struct MasterKey(Zeroizing<[u8; KEY_BYTES]>);

/// Where the master key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MasterSource {
    /// `SWARMDESK_MASTER_KEY`.
    Environment,
    /// `SWARMDESK_MASTER_KEY_FILE`.
    File(PathBuf),
    /// Made for development in the data directory.
    Development(PathBuf),
    /// Made for development by the first node on a PostgreSQL database, kept in it
    /// (table `data_key_dev_master`) for every node.
    DevelopmentInDatabase,
}

impl MasterKey {
    /// From base64 of 32 bytes (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, ShredError> {
        use base64::Engine;
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| ShredError::MasterKey(format!("not base64 ({e})")))?,
        );
        let key: [u8; KEY_BYTES] = bytes.as_slice().try_into().map_err(|_| {
            ShredError::MasterKey(format!("{} bytes, expected {KEY_BYTES}", bytes.len()))
        })?;
        Ok(MasterKey(Zeroizing::new(key)))
    }

    /// The master key for the data directory `data`: `SWARMDESK_MASTER_KEY` (`env`
    /// gives the variables), else the file `SWARMDESK_MASTER_KEY_FILE` names, else
    /// the development key in `data/keys/master.key`, made on first use.
    pub fn load(
        data: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, MasterSource), ShredError> {
        Self::load_in(&data.join(KEYS_DIR), env)
    }

    /// [`MasterKey::load`] for the key store in the directory `dir` (the development
    /// key is `dir/master.key`).
    pub fn load_in(
        dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Self, MasterSource), ShredError> {
        if let Some(text) = env("SWARMDESK_MASTER_KEY").filter(|t| !t.trim().is_empty()) {
            return Ok((Self::from_base64(&text)?, MasterSource::Environment));
        }
        if let Some(file) = env("SWARMDESK_MASTER_KEY_FILE").filter(|t| !t.is_empty()) {
            let path = PathBuf::from(file);
            let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(io(&path))?);
            return Ok((Self::from_base64(&text)?, MasterSource::File(path)));
        }
        let path = dir.join(DEV_MASTER_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((
                Self::from_base64(&Zeroizing::new(text))?,
                MasterSource::Development(path),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use base64::Engine;
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let key = Zeroizing::new(random::<KEY_BYTES>()?);
                let text = base64::engine::general_purpose::STANDARD.encode(key.as_slice());
                write_synced(&path, text.as_bytes())?;
                Ok((MasterKey(key), MasterSource::Development(path)))
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The master key `SWARMDESK_MASTER_KEY` or `SWARMDESK_MASTER_KEY_FILE` names
    /// (`env` gives the variables), if either is set.
    pub fn configured(
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<(Self, MasterSource)>, ShredError> {
        if env("SWARMDESK_MASTER_KEY").is_some_and(|t| !t.trim().is_empty())
            || env("SWARMDESK_MASTER_KEY_FILE").is_some_and(|t| !t.is_empty())
        {
            // Either variable set: never falls through to a development key.
            return Self::load_in(Path::new(""), env).map(Some);
        }
        Ok(None)
    }

    /// A new random key (for development).
    pub(crate) fn random() -> Result<Self, ShredError> {
        Ok(MasterKey(Zeroizing::new(random()?)))
    }

    /// The key's bytes (to store the development key).
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// From raw bytes (the stored development key).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, ShredError> {
        let key: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| {
            ShredError::MasterKey(format!("{} bytes, expected {KEY_BYTES}", bytes.len()))
        })?;
        Ok(MasterKey(Zeroizing::new(key)))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.0.as_slice()))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ShredError> {
    let mut f = std::fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// The name of the customer's key (file or row): the hex SHA-256 of the customer id,
/// which says nothing about whom it is for.
pub(crate) fn key_name(customer: &str) -> String {
    crate::store::chain::hex(&Sha256::digest(customer.as_bytes()).into())
}

/// The master key check: [`MASTER_CHECK`] sealed with `master` (a nonce, then the
/// ciphertext).
pub(crate) fn seal_check(master: &MasterKey) -> Result<Vec<u8>, ShredError> {
    let nonce: [u8; NONCE_BYTES] = random()?;
    let sealed = master
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), MASTER_CHECK)
        .map_err(|_| ShredError::Io("cannot seal the master key check".into()))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// Whether `master` opens the check `bytes` ([`seal_check`]).
pub(crate) fn check_opens(master: &MasterKey, bytes: &[u8]) -> bool {
    bytes.len() > NONCE_BYTES && {
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        master
            .cipher()
            .decrypt(Nonce::from_slice(nonce), sealed)
            .is_ok_and(|clear| clear == MASTER_CHECK)
    }
}

/// A new random data key for `customer`, and its stored form: the key id, a nonce,
/// then the key sealed with `master` (the customer id as associated data).
pub(crate) fn wrap_new(
    master: &MasterKey,
    customer: &str,
) -> Result<(DataKey, Zeroizing<Vec<u8>>), ShredError> {
    let key = DataKey {
        id: random()?,
        key: Zeroizing::new(random()?),
    };
    let nonce: [u8; NONCE_BYTES] = random()?;
    let wrapped = master
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: key.key.as_slice(),
                aad: customer.as_bytes(),
            },
        )
        .map_err(|_| ShredError::Io("cannot wrap a data key".into()))?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(ID_BYTES + NONCE_BYTES + wrapped.len()));
    bytes.extend_from_slice(&key.id);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&wrapped);
    Ok((key, bytes))
}

/// The data key of `customer` from its stored form ([`wrap_new`]).
pub(crate) fn unwrap(
    master: &MasterKey,
    customer: &str,
    bytes: &[u8],
) -> Result<DataKey, ShredError> {
    if bytes.len() <= ID_BYTES + NONCE_BYTES {
        return Err(ShredError::Unwrap(customer.into()));
    }
    let (id, rest) = bytes.split_at(ID_BYTES);
    let (nonce, wrapped) = rest.split_at(NONCE_BYTES);
    let key = Zeroizing::new(
        master
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: wrapped,
                    aad: customer.as_bytes(),
                },
            )
            .map_err(|_| ShredError::Unwrap(customer.into()))?,
    );
    Ok(DataKey {
        id: id
            .try_into()
            .map_err(|_| ShredError::Unwrap(customer.into()))?,
        key: Zeroizing::new(
            key.as_slice()
                .try_into()
                .map_err(|_| ShredError::Unwrap(customer.into()))?,
        ),
    })
}

/// A customer's data key and its id (which sealed fields name).
pub struct DataKey {
    pub id: [u8; ID_BYTES],
    pub key: Zeroizing<[u8; KEY_BYTES]>,
}

impl DataKey {
    pub fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.key.as_slice()))
    }
}

/// Which stored key a cached key was read from (see [`KeyStore::stamp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStamp {
    /// A key file, by its modification time and (on Unix) inode.
    File {
        modified: Option<std::time::SystemTime>,
        inode: u64,
    },
    /// A row in the database, not read again on each use: a cached key is dropped
    /// when the node sees the customer forgotten on its live feed
    /// ([`super::Vault::evict`]).
    Row,
    /// A key file in a directory no other process uses (`DATA/keys/`, whose data
    /// directory the store holds locked): a cached key is good until it is destroyed
    /// through this process, which drops it.
    Owned,
}

/// Where the customers' data keys are kept.
pub enum KeyStore {
    /// One file per key in a directory.
    Files(FileKeys),
    /// One row per key in the PostgreSQL database of the log.
    Postgres(super::pg_keys::PgKeys),
}

impl KeyStore {
    /// The key store in the directory `data/keys` (see [`FileKeys::open`]).
    pub fn open(data: &Path, master: MasterKey) -> Result<Self, ShredError> {
        FileKeys::open(data, master).map(KeyStore::Files)
    }

    /// What tells one stored key of the customer from another, or `None` when there
    /// is none (as far as the store looks: see [`FileKeys::stamp`]): a cached key is
    /// good while this stays the same.
    pub fn stamp(&self, customer: &str) -> Result<Option<KeyStamp>, ShredError> {
        match self {
            KeyStore::Files(f) => f.stamp(customer),
            KeyStore::Postgres(_) => Ok(Some(KeyStamp::Row)),
        }
    }

    /// The customer's data key, if it exists (it never existed, or was destroyed).
    pub fn get(&self, customer: &str) -> Result<Option<DataKey>, ShredError> {
        match self {
            KeyStore::Files(f) => f.get(customer),
            KeyStore::Postgres(p) => p.get(customer),
        }
    }

    /// The customer's data key, made and stored if it does not exist yet; a key
    /// another writer made first is the one returned.
    pub fn get_or_create(&self, customer: &str) -> Result<DataKey, ShredError> {
        match self {
            KeyStore::Files(f) => f.get_or_create(customer),
            KeyStore::Postgres(p) => p.get_or_create(customer),
        }
    }

    /// Destroys the customer's data key; whether there was one.
    pub fn destroy(&self, customer: &str) -> Result<bool, ShredError> {
        match self {
            KeyStore::Files(f) => f.destroy(customer),
            KeyStore::Postgres(p) => p.destroy(customer),
        }
    }
}

/// A stored key: its name (the hex SHA-256 of the customer id) and its wrapped bytes.
pub type WrappedKey = (String, Zeroizing<Vec<u8>>);

/// The customers' data keys in `DATA/keys/` (or a directory of its own).
pub struct FileKeys {
    dir: PathBuf,
    master: MasterKey,
    /// Whether other processes may change the keys (a directory several nodes
    /// share): each use then checks the key's file ([`FileKeys::stamp`]).
    shared: bool,
}

impl FileKeys {
    /// The key store of the data directory `data`, its keys wrapped by `master`.
    /// Refused with [`ShredError::MasterKey`] when `master` is not the key this key
    /// store was first opened with.
    pub fn open(data: &Path, master: MasterKey) -> Result<Self, ShredError> {
        Self::open_dir(data.join(KEYS_DIR), master)
    }

    /// [`FileKeys::open`] on the key store in the directory `dir`.
    pub fn open_dir(dir: PathBuf, master: MasterKey) -> Result<Self, ShredError> {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let check = dir.join(MASTER_CHECK_FILE);
        match std::fs::read(&check) {
            Ok(bytes) => {
                if !check_opens(&master, &bytes) {
                    return Err(ShredError::MasterKey(format!(
                        "it is not the master key the keys in {} were made with (check \
                         SWARMDESK_MASTER_KEY / SWARMDESK_MASTER_KEY_FILE)",
                        dir.display()
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_synced(&check, &seal_check(&master)?)?;
            }
            Err(e) => return Err(io(&check)(e)),
        }
        Ok(FileKeys {
            dir,
            master,
            shared: true,
        })
    }

    /// Says whether other processes may change these keys; a store opened with
    /// [`FileKeys::open_dir`] is taken as shared until told otherwise.
    pub fn shared(mut self, shared: bool) -> Self {
        self.shared = shared;
        self
    }

    fn path(&self, customer: &str) -> PathBuf {
        self.dir.join(format!("{}.key", key_name(customer)))
    }

    /// Every key file, as its name (without `.key`) and stored bytes.
    pub fn wrapped_files(&self) -> Result<Vec<WrappedKey>, ShredError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(stem) = name.strip_suffix(".key") {
                if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) {
                    let bytes = Zeroizing::new(std::fs::read(&path).map_err(io(&path))?);
                    out.push((stem.to_string(), bytes));
                }
            }
        }
        Ok(out)
    }

    /// What tells one key file of the customer from another (its modification time
    /// and, on Unix, its inode), or `None` when there is none: a cached key is good
    /// while this stays the same. Keys no other process changes are not looked at:
    /// always [`KeyStamp::Owned`], whether the file exists or not.
    pub fn stamp(&self, customer: &str) -> Result<Option<KeyStamp>, ShredError> {
        if !self.shared {
            return Ok(Some(KeyStamp::Owned));
        }
        let path = self.path(customer);
        match std::fs::metadata(&path) {
            Ok(m) => {
                #[cfg(unix)]
                let inode = std::os::unix::fs::MetadataExt::ino(&m);
                #[cfg(not(unix))]
                let inode = 0;
                Ok(Some(KeyStamp::File {
                    modified: m.modified().ok(),
                    inode,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// The customer's data key, if it exists (it never existed, or was destroyed).
    pub fn get(&self, customer: &str) -> Result<Option<DataKey>, ShredError> {
        let path = self.path(customer);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        unwrap(&self.master, customer, &bytes).map(Some)
    }

    /// The customer's data key, made (and stored, synced) if it does not exist yet.
    pub fn get_or_create(&self, customer: &str) -> Result<DataKey, ShredError> {
        if let Some(key) = self.get(customer)? {
            return Ok(key);
        }
        let (key, bytes) = wrap_new(&self.master, customer)?;
        // Written aside and linked into place, so a crash never leaves half a key, and
        // a key made at the same time by another writer is never replaced: the first
        // one in place is the customer's key, which the loser reads back.
        let path = self.path(customer);
        let partial = path.with_extension(format!("{}.partial", ulid::Ulid::new()));
        write_synced(&partial, &bytes)?;
        let linked = std::fs::hard_link(&partial, &path);
        std::fs::remove_file(&partial).map_err(io(&partial))?;
        match linked {
            Ok(()) => {
                sync_dir(&self.dir)?;
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self
                .get(customer)?
                .ok_or_else(|| ShredError::Io(format!("{}: vanished", path.display()))),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Destroys the customer's data key: its file is overwritten with zeros, synced,
    /// removed, and the directory synced. Returns whether there was a key.
    pub fn destroy(&self, customer: &str) -> Result<bool, ShredError> {
        let path = self.path(customer);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len() as usize,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        f.write_all(&vec![0u8; len]).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
        drop(f);
        std::fs::remove_file(&path).map_err(io(&path))?;
        sync_dir(&self.dir)?;
        Ok(true)
    }
}

fn sync_dir(dir: &Path) -> Result<(), ShredError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_key_is_made_once_and_read_back_with_the_same_master_key() {
        let dir = tempfile::tempdir().unwrap();
        let (master, source) = MasterKey::load(dir.path(), no_env).unwrap();
        assert!(matches!(source, MasterSource::Development(_)));
        let keys = KeyStore::open(dir.path(), master).unwrap();
        assert!(keys.get("globex").unwrap().is_none());
        let made = keys.get_or_create("globex").unwrap();
        let again = keys.get_or_create("globex").unwrap();
        assert_eq!((made.id, *made.key), (again.id, *again.key));
        assert_ne!(*keys.get_or_create("initech").unwrap().key, *made.key);
        // The development master key is kept: a new process reads the same keys.
        let (master, _) = MasterKey::load(dir.path(), no_env).unwrap();
        let reopened = KeyStore::open(dir.path(), master).unwrap();
        assert_eq!(*reopened.get("globex").unwrap().unwrap().key, *made.key);
        // The key's bytes are in no file in clear.
        for entry in std::fs::read_dir(dir.path().join(KEYS_DIR)).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(KEY_BYTES).any(|w| w == made.key.as_slice()));
        }
    }

    #[test]
    fn another_master_key_cannot_open_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let key = |b: u8| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode([b; KEY_BYTES])
        };
        let env = |k: String| move |name: &str| (name == "SWARMDESK_MASTER_KEY").then(|| k.clone());
        let (master, source) = MasterKey::load(dir.path(), env(key(1))).unwrap();
        assert_eq!(source, MasterSource::Environment);
        KeyStore::open(dir.path(), master)
            .unwrap()
            .get_or_create("globex")
            .unwrap();
        let (other, _) = MasterKey::load(dir.path(), env(key(2))).unwrap();
        // Refused when opened, saying why, before any key is read.
        let refused = KeyStore::open(dir.path(), other).err().expect("refused");
        assert!(matches!(refused, ShredError::MasterKey(_)));
        assert!(
            refused.to_string().contains("not the master key"),
            "{refused}"
        );
        // A key file itself does not open with another master key either.
        let (other, _) = MasterKey::load(dir.path(), env(key(2))).unwrap();
        let keys = FileKeys {
            dir: dir.path().join(KEYS_DIR),
            master: other,
            shared: true,
        };
        assert!(matches!(keys.get("globex"), Err(ShredError::Unwrap(_))));
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err(), "too short");
        assert!(!dir.path().join(KEYS_DIR).join(DEV_MASTER_FILE).exists());
    }

    #[test]
    fn a_master_key_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master.b64");
        std::fs::write(&file, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n").unwrap();
        let name = file.to_str().unwrap().to_string();
        let (master, source) = MasterKey::load(dir.path(), |k: &str| {
            (k == "SWARMDESK_MASTER_KEY_FILE").then(|| name.clone())
        })
        .unwrap();
        assert_eq!(source, MasterSource::File(file));
        assert_eq!(*master.0, [1u8; KEY_BYTES]);
    }

    #[test]
    fn a_destroyed_key_is_gone_from_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (master, _) = MasterKey::load(dir.path(), no_env).unwrap();
        let keys = FileKeys::open(dir.path(), master).unwrap();
        let made = keys.get_or_create("globex").unwrap();
        let path = keys.path("globex");
        let stored = std::fs::read(&path).unwrap();
        assert!(keys.destroy("globex").unwrap());
        assert!(!keys.destroy("globex").unwrap(), "already gone");
        assert!(keys.get("globex").unwrap().is_none());
        for entry in std::fs::read_dir(dir.path().join(KEYS_DIR)).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(ID_BYTES).any(|w| w == made.id));
            assert!(!bytes
                .windows(stored.len() - ID_BYTES)
                .any(|w| w == &stored[ID_BYTES..]));
        }
        // A new key for the same customer is a different key.
        assert_ne!(*keys.get_or_create("globex").unwrap().key, *made.key);
    }
}
