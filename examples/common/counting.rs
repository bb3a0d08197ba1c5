//! The examples' counting allocator: the server's allocator, counting the bytes live on
//! the heap, so an example can say what a structure holds ([`heap`] before and after).
//! An example includes this file with `#[path = "common/counting.rs"] mod counting;`;
//! it is the process's global allocator only when built as an example: the
//! integration test that includes the examples keeps the system's (where [`heap`]
//! stays 0).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use swarmdesk::allocator::Allocator;

/// The server's allocator ([`Allocator`]), counting the bytes live on the heap.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { Allocator.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { Allocator.dealloc(ptr, layout) }
    }
}

// Only when run as an example: the test that includes the examples keeps its own.
#[cfg(not(test))]
#[global_allocator]
static COUNTING: Counting = Counting;

/// Heap bytes live now (0 when the counting allocator is not in use).
pub fn heap() -> usize {
    LIVE.load(Ordering::Relaxed)
}
