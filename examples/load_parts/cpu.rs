//! CPU time of this process's threads, told apart by whom they work for: the load
//! generator's clients (the runtime of `main`, threads named `load-gen`), its
//! subscribers (`load-sub`), and everything else, which is the server started in this
//! process (its runtime `load-server`, the HTTP workers, the store's and sled's
//! threads, the connections' runtime). With `--url` the server is elsewhere and its
//! share here is near zero. Of the server's share, sled's I/O thread pool (`sled-io-N`)
//! is also counted apart: its seven idle threads all wake for each of its jobs.
//!
//! Read from `/proc/self/task/*/schedstat` (nanoseconds on a CPU), or where the kernel
//! has none, from `stat` (10 ms ticks), thread by thread: two readings are compared
//! per thread, so a thread that ends between them (sled's extra I/O threads end after
//! a second idle) only leaves its last stretch uncounted, and never takes the time it
//! had before the first reading off the others' (a sum per share would).

/// CPU seconds used between two readings, by whom.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cpu {
    /// Every thread of the server, sled's I/O threads included.
    pub(crate) server: f64,
    /// sled's I/O threads alone.
    pub(crate) sled_io: f64,
    pub(crate) generator: f64,
    pub(crate) subscribers: f64,
}

/// Name of the generator's clients' runtime threads (set in `main`).
pub(crate) const GENERATOR_THREADS: &str = "load-gen";
/// Name of the generator's subscribers' runtime threads.
pub(crate) const SUBSCRIBER_THREADS: &str = "load-sub";

/// Whom a thread works for, by its name.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Generator,
    Subscribers,
    SledIo,
    Server,
}

impl Who {
    fn of(comm: &str) -> Who {
        if comm.starts_with(GENERATOR_THREADS) {
            Who::Generator
        } else if comm.starts_with(SUBSCRIBER_THREADS) {
            Who::Subscribers
        } else if comm.starts_with("sled-io") {
            Who::SledIo
        } else {
            Who::Server
        }
    }
}

/// Every thread of this process at one moment: its id, whom it works for, and the CPU
/// seconds it has used so far. Subtract an earlier reading to get what was used between.
#[derive(Debug, Default)]
pub(crate) struct Threads(std::collections::HashMap<u64, (Who, f64)>);

impl std::ops::Sub for Threads {
    type Output = Cpu;
    fn sub(self, before: Threads) -> Cpu {
        let mut cpu = Cpu::default();
        for (tid, (who, used)) in self.0 {
            // A thread new since `before` used all its time between; so did one whose
            // id was reused (less time than the ended thread that had the id).
            let used = match before.0.get(&tid) {
                Some(&(_, earlier)) if earlier <= used => used - earlier,
                _ => used,
            };
            match who {
                Who::Generator => cpu.generator += used,
                Who::Subscribers => cpu.subscribers += used,
                Who::SledIo => {
                    cpu.sled_io += used;
                    cpu.server += used;
                }
                Who::Server => cpu.server += used,
            }
        }
        cpu
    }
}

/// Every thread of this process and the CPU time it has used so far.
pub(crate) fn now() -> Threads {
    let mut threads = Threads::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for t in tasks.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let Some(used) = run_seconds(&t.path()) else {
            continue;
        };
        threads.0.insert(tid, (Who::of(&comm), used));
    }
    threads
}

/// One thread's CPU seconds so far (`task` is its `/proc` directory).
pub(crate) fn run_seconds(task: &std::path::Path) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::{Threads, Who};

    /// A thread that ended between two readings takes none of its earlier time off the
    /// others' (the integration tests' process starts and ends threads all the time); a
    /// thread that started in between counts whole, as does an id reused meanwhile.
    #[test]
    fn readings_are_compared_thread_by_thread() {
        let before = Threads(
            [
                (1, (Who::Server, 5.0)),
                (2, (Who::Server, 1.0)),
                (4, (Who::SledIo, 3.0)),
            ]
            .into(),
        );
        let after = Threads(
            [
                (2, (Who::Server, 1.5)),
                (3, (Who::Generator, 0.25)),
                (4, (Who::SledIo, 0.5)),
            ]
            .into(),
        );
        let used = after - before;
        assert_eq!(
            (used.server, used.sled_io, used.generator, used.subscribers),
            (1.0, 0.5, 0.25, 0.0)
        );
    }
}
