//! seqfix's own CPU priority. On the database host, seqfix's client shares the CPU with
//! the server and the application. Its read-only work (the scan's sorting and grouping,
//! which holds no row locks) runs on a thread with a nice value `SCAN_NICE` above the
//! process's, so that a woken server or application thread takes the core from it at once
//! instead of waiting for its time slice (docs/benchmarks.md, "Writer p99 during dedupe").
//! Work that holds row locks (dedupe's and restore's batches) keeps the normal priority:
//! slowing it down would make the application wait on those locks longer.

/// How much nicer than the process the read-only scan thread runs (Linux; capped at 19).
pub const SCAN_NICE: i32 = 10;

/// Runs `work` on a thread whose nice value is `SCAN_NICE` above the caller's, and returns
/// its result. The caller's own priority is left alone (on Linux the nice value belongs to
/// each thread). Where the priority cannot be lowered (other systems, or a refusal) the
/// work runs all the same.
pub fn lowered<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            lower_this_thread(SCAN_NICE);
            work()
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The calling thread's nice value, where the system says.
#[cfg(target_os = "linux")]
fn this_thread_nice() -> Option<i32> {
    // SAFETY: plain system calls without pointers; with `who` 0, Linux applies PRIO_PROCESS
    // to the calling thread. getpriority may legitimately return -1, hence errno.
    unsafe {
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, 0);
        (*libc::__errno_location() == 0).then_some(nice)
    }
}

#[cfg(target_os = "linux")]
fn lower_this_thread(by: i32) {
    let Some(now) = this_thread_nice() else { return };
    // SAFETY: as above; raising one's own nice value needs no privilege.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, (now + by).min(19)) } != 0 {
        log::debug!("could not lower the scan thread's CPU priority: {}", std::io::Error::last_os_error());
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread(_by: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_work_runs_nicer_and_the_caller_keeps_its_priority() {
        let before = this_thread_nice().unwrap();
        let inside = lowered(this_thread_nice).unwrap();
        assert_eq!(inside, (before + SCAN_NICE).min(19));
        assert_eq!(this_thread_nice().unwrap(), before, "the caller's priority is unchanged");
    }

    #[test]
    fn results_and_errors_come_back() {
        assert_eq!(lowered(|| 6 * 7), 42);
        let r: anyhow::Result<()> = lowered(|| anyhow::bail!("no"));
        assert_eq!(r.unwrap_err().to_string(), "no");
    }
}
