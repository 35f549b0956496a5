//! `--jobs`: worker threads, at least one and at most a few per core, so a typo or a hostile
//! number cannot start threads until the machine stops responding.

/// Threads allowed per core: more only adds contention, since every worker computes.
pub const THREADS_PER_CORE: usize = 4;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread count to use for `--jobs requested` (all cores when not given). Zero is an
/// error; above `THREADS_PER_CORE` x the cores is clamped with a note on stderr (results do
/// not depend on the thread count).
pub fn worker_threads(requested: Option<usize>) -> anyhow::Result<usize> {
    let cores = cores();
    match requested {
        None => Ok(cores),
        Some(0) => anyhow::bail!("--jobs must be at least 1"),
        Some(n) => {
            let max = cores.saturating_mul(THREADS_PER_CORE);
            if n > max {
                eprintln!(
                    "note: --jobs {n} is above {THREADS_PER_CORE} threads per core on this \
                     machine's {cores} cores; using {max}"
                );
                Ok(max)
            } else {
                Ok(n)
            }
        }
    }
}
