//! Catch-up subscriptions: every event from a chosen position, in order, then live
//! ones as they are appended, with no gap and no duplicate.
//!
//! The subscriber listens to the live channel *before* reading history, so nothing
//! appended in between is missed; live events it already read from the log are
//! skipped by position. Writers never wait for subscribers: the live channel is a
//! bounded ring, and a subscriber that falls out of it (or sees a gap) is told so by a
//! [`FeedEvent::Lagged`] marker and resumes from the log at its last position, which
//! is always possible because the log is durable. Memory per subscriber stays bounded.

use futures_util::stream::{self, Stream};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{EventStore, RecordedEvent, StoreError};

/// How many events one history read fetches.
const PAGE: usize = 512;

/// What a subscription yields.
#[derive(Clone, Debug)]
pub enum FeedEvent {
    Event(Arc<RecordedEvent>),
    /// The subscriber fell behind the live channel; it continues from the log after
    /// `last_position`, so no event is lost. Useful for metrics and for clients that
    /// want to know they are replaying.
    Lagged {
        last_position: u64,
    },
}

pub type FeedStream = Pin<Box<dyn Stream<Item = Result<FeedEvent, StoreError>> + Send>>;

struct State {
    store: Arc<dyn EventStore>,
    live: broadcast::Receiver<Arc<RecordedEvent>>,
    /// The next position this subscriber must receive.
    next: u64,
    buffer: VecDeque<Arc<RecordedEvent>>,
    /// Read history before listening live again.
    catching_up: bool,
    done: bool,
}

/// Every event with position >= `from` (1-based; 0 means from the start).
pub fn subscribe_from(store: Arc<dyn EventStore>, from: u64) -> FeedStream {
    let live = store.subscribe();
    let state = State {
        store,
        live,
        next: from.max(1),
        buffer: VecDeque::new(),
        catching_up: true,
        done: false,
    };
    Box::pin(stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(e) = st.buffer.pop_front() {
                st.next = e.position + 1;
                return Some((Ok(FeedEvent::Event(e)), st));
            }
            if st.catching_up {
                match st.store.read_all(st.next, PAGE).await {
                    Ok(page) if page.is_empty() => st.catching_up = false,
                    Ok(page) => st.buffer.extend(page.into_iter().map(Arc::new)),
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
                continue;
            }
            match st.live.recv().await {
                Ok(e) if e.position < st.next => continue,
                Ok(e) if e.position == st.next => st.buffer.push_back(e),
                // A gap: something was published that we did not see. Read the log.
                Ok(_) => st.catching_up = true,
                Err(RecvError::Lagged(_)) => {
                    st.catching_up = true;
                    let last_position = st.next - 1;
                    return Some((Ok(FeedEvent::Lagged { last_position }), st));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }))
}
