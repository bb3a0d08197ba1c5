//! CPU time of this process's threads, told apart by whom they work for: the load
//! generator's clients (the runtime of `main`, threads named `load-gen`), its
//! subscribers (`load-sub`), and everything else, which is the server started in this
//! process (its runtime `load-server`, the HTTP workers, the store's and sled's
//! threads, the connections' runtime). With `--url` the server is elsewhere and its
//! share here is near zero. Of the server's share, sled's I/O thread pool (`sled-io-N`)
//! is also counted apart: its seven idle threads all wake for each of its jobs.
//!
//! Read from `/proc/self/task/*/schedstat` (nanoseconds on a CPU), or where the kernel
//! has none, from `stat` (10 ms ticks). A thread that ends between two readings takes
//! its time with it (sled's extra I/O threads end after a second idle), so a share can
//! come out a little low, never high.

/// CPU seconds used so far, by whom.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    /// Every thread of the server, sled's I/O threads included.
    pub(crate) server: f64,
    /// sled's I/O threads alone.
    pub(crate) sled_io: f64,
    pub(crate) generator: f64,
    pub(crate) subscribers: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, before: Cpu) -> Cpu {
        Cpu {
            server: self.server - before.server,
            sled_io: self.sled_io - before.sled_io,
            generator: self.generator - before.generator,
            subscribers: self.subscribers - before.subscribers,
        }
    }
}

/// Name of the generator's clients' runtime threads (set in `main`).
pub(crate) const GENERATOR_THREADS: &str = "load-gen";
/// Name of the generator's subscribers' runtime threads.
pub(crate) const SUBSCRIBER_THREADS: &str = "load-sub";

/// The CPU time every thread of this process has used so far, by whom.
pub(crate) fn now() -> Cpu {
    let mut cpu = Cpu::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let Some(used) = run_seconds(&t.path()) else {
            continue;
        };
        let who = if comm.starts_with(GENERATOR_THREADS) {
            &mut cpu.generator
        } else if comm.starts_with(SUBSCRIBER_THREADS) {
            &mut cpu.subscribers
        } else {
            if comm.starts_with("sled-io") {
                cpu.sled_io += used;
            }
            &mut cpu.server
        };
        *who += used;
    }
    cpu
}

/// One thread's CPU seconds so far.
fn run_seconds(task: &std::path::Path) -> Option<f64> {
    if let Ok(s) = std::fs::read_to_string(task.join("schedstat")) {
        if let Some(ns) = s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            return Some(ns / 1e9);
        }
    }
    let stat = std::fs::read_to_string(task.join("stat")).ok()?;
    // `pid (comm) state ...`: after the last `)`, utime and stime are fields 12 and 13.
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ on Linux
}
