//! The process's memory allocator (glibc's malloc on Linux; nothing elsewhere): how
//! many arenas its threads may spread over, and handing freed memory back to the
//! system once a start's replay is done.

/// Lets every thread have a malloc arena of its own (up to [`ARENAS`]). glibc's
/// default limit is 8 per core, 16 on a 2-core machine, and a server runs more threads
/// than that (tokio's, actix's, sled's, a replay's read-ahead), so threads share
/// arenas: then the pages sled reads during a start's replay can land in the arena the
/// projections fill, and when sled's open is dropped after the replay
/// (`EventStore::release_read_state`) their holes stay between the projections instead
/// of going back to the system (about 40 MB at 1 M events in half the starts). Call it
/// first thing in `main`, before threads start.
pub fn give_threads_their_own_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a malloc parameter; it takes no pointer, and
    // `M_ARENA_MAX` with a positive value is a documented setting.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// The arena limit [`give_threads_their_own_arenas`] sets.
pub const ARENAS: i32 = 64;

/// Hands the memory freed during start-up back to the system. A replay allocates and
/// frees far more than the projections keep (each event decoded, a snapshot's bytes),
/// and glibc's allocator otherwise keeps those pages, so the server's resident memory
/// would stay at the replay's peak rather than what it holds.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free heap pages to the kernel; it takes no
    // pointer and is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
