//! The process's memory allocator: mimalloc, which the `swarmdesk` binary and the
//! examples that measure it declare global (`#[global_allocator]` belongs to the final
//! binary, so a library cannot choose it for them) and [`configure`] first thing in
//! `main`; and handing freed memory back to the system once a start's replay is done.
//!
//! Why mimalloc rather than the system's (glibc's) malloc: a profile of 64 clients
//! posting messages spent about a fifth of the process's CPU in glibc's `malloc`,
//! `free` and their consolidation; the load example built with mimalloc did about
//! 1.4x the durable mutations per second at a lower p99, and starts were faster
//! (`docs/performance.md`, "mimalloc"). Its settings keep resident memory where glibc's was: no
//! transparent huge pages (the crate's `no_thp` feature: a huge page held for a few
//! live objects cost about 25 MB at 1 M events) and freed pages handed back at once.

use libmimalloc_sys::{mi_collect, mi_option_set, mi_option_t};

/// The allocator to declare global: `#[global_allocator] static A: Allocator = Allocator;`
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h; the crate names no constant for
/// it). mimalloc only appends options, so the number stays; a test checks it by the
/// option's documented default.
const PURGE_DELAY: mi_option_t = 15;

/// Sets the allocator's options: freed pages go back to the system at once instead of
/// after mimalloc's default second, so a start's resident memory is what the
/// projections hold rather than the replay's leftovers. Call it first thing in `main`.
pub fn configure() {
    // SAFETY: `mi_option_set` takes no pointer; any value is valid for this option.
    unsafe { mi_option_set(PURGE_DELAY, 0) }
}

/// Hands the memory freed during start-up back to the system. A replay allocates and
/// frees far more than the projections keep (each event decoded, a snapshot's bytes);
/// without this the server's resident memory would stay near the replay's peak until
/// the allocator purged those pages by itself. Harmless in a process whose global
/// allocator is another (the tests).
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointer; it frees mimalloc's unused pages and may
    // be called at any time from any thread.
    unsafe { mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    /// The purge delay in force, in milliseconds.
    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: `mi_option_get` takes no pointer.
        unsafe { mi_option_get(PURGE_DELAY) }
    }

    /// `PURGE_DELAY` names the purge delay: its documented default is 1,000 ms (no
    /// other option of mimalloc's defaults to 1,000), and `configure` sets it to 0.
    #[test]
    fn the_purge_delay_option_is_the_one_configured() {
        assert_eq!(purge_delay(), 1000, "mimalloc's default purge delay");
        configure();
        assert_eq!(purge_delay(), 0);
    }
}
