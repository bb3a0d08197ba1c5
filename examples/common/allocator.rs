//! The server's allocator as the process's global one, as `swarmdesk serve` runs it
//! (see `swarmdesk::allocator`), for the examples that time the server without
//! counting its heap (those that count include `counting.rs`, which wraps it). An
//! example includes this file with `#[path = "common/allocator.rs"] mod allocator;`
//! and calls `swarmdesk::allocator::configure()` first thing in `main`.

// Only when run as an example: the test that includes the examples keeps its own.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: swarmdesk::allocator::Allocator = swarmdesk::allocator::Allocator;
