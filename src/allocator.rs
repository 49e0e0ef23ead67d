//! The charm's allocator: mimalloc, for every binary built on this crate (the charm, its
//! tests and benchmarks).
//!
//! A hook of a large model makes and frees millions of small strings: with mimalloc the full
//! path at 2000x5 costs 17–28 % less CPU than with musl's allocator (the shipped binary is
//! static musl; measured with a purge delay of 0, which costs more than the 10 ms shipped),
//! and `desired::compute` 17–34 % less time than with glibc's. Two settings keep small hooks
//! as small and fast as before (BENCHMARKS.md, "Session 22"): no transparent huge pages (the
//! `no_thp` feature: each first touch of a 2 MiB page cost its zeroing and 2 MiB of resident
//! memory), and freed pages given back within 10 ms ([`configure`]), so the full path's peak
//! RSS stays within 2.5 MB of where the system allocator had it.

/// The process's global allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`, its place in `mi_option_t` (mimalloc 3), for which the
/// bindings name no constant. A test checks it still holds the option's default.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The purge delay for a process of the charm, in milliseconds. mimalloc 3 keeps freed pages
/// for a second before it gives them back; a hook lives less than that, so with the default
/// every page it ever freed counts in its peak RSS (update-status computing everything at
/// 2000x5: 62.7 MB; 55.0 MB with 10 ms). A delay of 0 gives each page back as it is freed and
/// faults it in again when it is needed: 15–22 % more CPU on that hook than 10 ms.
const CHARM_PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Sets mimalloc's options for a charm process. Call first thing in `main`.
pub fn configure() {
    // SAFETY: sets one integer option in mimalloc's option table, which it reads atomically;
    // no pointer is passed and no allocation depends on the value.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, CHARM_PURGE_DELAY_MS) };
}

/// Tells mimalloc, as the process is about to exit, to give nothing back any more: on exit it
/// collects its heaps, and with a purge delay set it purged every page freed since, work
/// the kernel does anyway when the process ends (4 % of a relation hook's CPU at 2000x5).
/// Call last thing in `main`, once only exiting is left.
pub fn before_exit() {
    // SAFETY: as in `configure`; a negative delay turns purging off.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_where_it_is_expected() {
        // 1000 ms is mimalloc 3's default purge delay and no other option's default: a
        // renumbered option table (a new mimalloc) fails here rather than setting something
        // else. (`MIMALLOC_PURGE_DELAY` in the environment would fail it too.)
        // SAFETY: reads one integer option.
        let default = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(default, 1000);
    }
}
