//! The key store of nodes whose log is in PostgreSQL: every wrapped data key in the
//! same database ([`crate::store::postgres::keys`]), so that every node on it opens
//! what any of them sealed, and a key forgotten through one is gone for all.
//!
//! The vault is called from synchronous code (answers, exports, the write loop), so
//! the table is reached through a thread of its own with its own runtime and one
//! connection (made again when lost): a caller sends a request and blocks on the
//! answer, which never stalls the caller's runtime's other tasks' connections.

use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use super::keys::{
    check_opens, key_name, seal_check, unwrap, wrap_new, DataKey, MasterKey, MasterSource,
};
use super::ShredError;
use crate::store::postgres::keys::KeyTable;
use crate::store::StoreError;

enum Request {
    Check(Vec<u8>),
    DevMaster(Zeroizing<Vec<u8>>),
    Get(String),
    Insert(String, Zeroizing<Vec<u8>>),
    Delete(String),
}

enum Reply {
    Wrapped(Option<Vec<u8>>),
    Deleted(bool),
}

type Job = (Request, std_mpsc::SyncSender<Result<Reply, StoreError>>);

/// The customers' data keys in the PostgreSQL database of the log.
pub struct PgKeys {
    master: MasterKey,
    jobs: mpsc::UnboundedSender<Job>,
}

fn store_error(e: StoreError) -> ShredError {
    ShredError::Io(e.to_string())
}

impl PgKeys {
    /// Connects to the database at `url` (migrating its schema if needed) with the
    /// master key `master`, or without one the development master key kept in the
    /// database (made by the first node). Refused with [`ShredError::MasterKey`] when
    /// the database's keys were made with another master key.
    pub fn connect(
        url: &str,
        master: Option<(MasterKey, MasterSource)>,
    ) -> Result<(Self, MasterSource), ShredError> {
        Self::connect_with(url, master, MasterKey::random()?)
    }

    /// [`PgKeys::connect`], proposing `dev` as the development master key when none
    /// is configured (kept if the database has none yet: `migrate` brings a data
    /// directory's development key along with its keys).
    pub fn connect_with(
        url: &str,
        master: Option<(MasterKey, MasterSource)>,
        dev: MasterKey,
    ) -> Result<(Self, MasterSource), ShredError> {
        let (jobs, rx) = mpsc::unbounded_channel::<Job>();
        let (ready, started) = std_mpsc::sync_channel(1);
        let url = url.to_string();
        std::thread::Builder::new()
            .name("swarmdesk-keys".into())
            .spawn(move || serve(url, rx, ready))
            .map_err(|e| ShredError::Io(format!("cannot start the key store's thread: {e}")))?;
        started
            .recv()
            .map_err(|_| ShredError::Io("the key store's thread ended".into()))?
            .map_err(store_error)?;
        let mut keys = PgKeys { master: dev, jobs };
        let source = match master {
            Some((master, source)) => {
                keys.master = master;
                source
            }
            None => {
                let made = Zeroizing::new(keys.master.bytes().to_vec());
                match keys.ask(Request::DevMaster(made))? {
                    Reply::Wrapped(Some(stored)) => {
                        keys.master = MasterKey::from_bytes(&Zeroizing::new(stored))?;
                    }
                    _ => return Err(ShredError::Io("no development master key".into())),
                }
                MasterSource::DevelopmentInDatabase
            }
        };
        let found = match keys.ask(Request::Check(seal_check(&keys.master)?))? {
            Reply::Wrapped(Some(found)) => found,
            _ => return Err(ShredError::Io("no master key check".into())),
        };
        if !check_opens(&keys.master, &found) {
            return Err(ShredError::MasterKey(
                "it is not the master key the keys in the PostgreSQL database were made with \
                 (every node on one database needs the same SWARMDESK_MASTER_KEY / \
                 SWARMDESK_MASTER_KEY_FILE, or none)"
                    .into(),
            ));
        }
        Ok((keys, source))
    }

    fn ask(&self, request: Request) -> Result<Reply, ShredError> {
        let (tx, rx) = std_mpsc::sync_channel(1);
        self.jobs
            .send((request, tx))
            .map_err(|_| ShredError::Io("the key store's thread ended".into()))?;
        rx.recv()
            .map_err(|_| ShredError::Io("the key store's thread ended".into()))?
            .map_err(store_error)
    }

    /// The customer's data key, if it exists.
    pub fn get(&self, customer: &str) -> Result<Option<DataKey>, ShredError> {
        match self.ask(Request::Get(key_name(customer)))? {
            Reply::Wrapped(Some(bytes)) => {
                let bytes = Zeroizing::new(bytes);
                unwrap(&self.master, customer, &bytes).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The customer's data key, made if there is none; when two nodes make one at
    /// once, the row stored first is every node's key.
    pub fn get_or_create(&self, customer: &str) -> Result<DataKey, ShredError> {
        if let Some(key) = self.get(customer)? {
            return Ok(key);
        }
        let (_, wrapped) = wrap_new(&self.master, customer)?;
        match self.ask(Request::Insert(key_name(customer), wrapped))? {
            Reply::Wrapped(Some(bytes)) => unwrap(&self.master, customer, &Zeroizing::new(bytes)),
            _ => Err(ShredError::Io("a data key vanished as it was made".into())),
        }
    }

    /// Stores a wrapped key as it is (copied from a key file named `name`), unless
    /// the database has one of that name.
    pub fn put_wrapped(&self, name: &str, wrapped: Zeroizing<Vec<u8>>) -> Result<(), ShredError> {
        self.ask(Request::Insert(name.to_string(), wrapped))
            .map(|_| ())
    }

    /// Deletes the customer's key row; whether there was one.
    pub fn destroy(&self, customer: &str) -> Result<bool, ShredError> {
        match self.ask(Request::Delete(key_name(customer)))? {
            Reply::Deleted(d) => Ok(d),
            Reply::Wrapped(_) => Ok(false),
        }
    }
}

/// The key store's thread: connects, then answers requests one at a time until
/// every [`PgKeys`] handle is dropped.
fn serve(
    url: String,
    mut rx: mpsc::UnboundedReceiver<Job>,
    ready: std_mpsc::SyncSender<Result<(), StoreError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(StoreError::Io(format!("key store runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(async move {
        let mut table = match KeyTable::connect(&url).await {
            Ok(t) => t,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        while let Some((request, reply)) = rx.recv().await {
            if table.is_closed() {
                match KeyTable::connect(&url).await {
                    Ok(t) => table = t,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                }
            }
            let answer = match request {
                Request::Check(sealed) => {
                    table.check(&sealed).await.map(|f| Reply::Wrapped(Some(f)))
                }
                Request::DevMaster(key) => table
                    .dev_master(&key)
                    .await
                    .map(|k| Reply::Wrapped(Some(k))),
                Request::Get(name) => table.get(&name).await.map(Reply::Wrapped),
                Request::Insert(name, wrapped) => table
                    .insert(&name, &wrapped)
                    .await
                    .map(|w| Reply::Wrapped(Some(w))),
                Request::Delete(name) => table.delete(&name).await.map(Reply::Deleted),
            };
            let _ = reply.send(answer);
        }
    });
}
