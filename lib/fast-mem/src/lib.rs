//! `memcpy`, `memmove`, `memcmp` and `bcmp` for the charm's static musl build (x86-64), in
//! place of musl's own.
//!
//! musl's x86-64 `memcpy` starts every copy with `rep movsq` and finishes it with a byte
//! loop, and its `memcmp` compares one byte at a time. Rust code calls these for every copy or
//! comparison whose length is not known at compile time: each string a serialiser writes,
//! each `Vec` that grows, each `String` key a map compares. A hook is mostly that, so in the
//! shipped binary `memcpy` alone was a fifth of a relation hook's samples at 2000x5
//! (BENCHMARKS.md, "Session 25"). glibc picks a copy routine per CPU; a static musl binary
//! cannot, and no maintained crate provides these symbols for a binary that links a libc
//! (the `compiler_builtins` ones are only for targets without one).
//!
//! What this crate does instead, for the sizes hooks copy:
//!
//! * up to 32 bytes: two loads that may overlap, then two stores (8, 16 or 32 bytes at a time;
//!   all loads happen before any store, so it is also a correct `memmove`);
//! * longer: `rep movsb`, which processors with ERMS (Intel since 2012, AMD since Zen 3)
//!   run at full speed, and with FSRM with little start-up cost for short strings;
//! * `memmove` whose destination overlaps the source from above: `rep movsb` backwards (as
//!   musl does);
//! * `memcmp`: eight bytes at a time, compared as big-endian numbers (the first differing byte
//!   decides the sign, as C requires).
//!
//! The functions are exported under their C names only when building for
//! `x86_64-unknown-linux-musl`; there the linker takes them before `libc.a` is searched, and
//! musl's `memcpy.o` (which also holds the `__memcpy_fwd` its `memmove` jumps to) is never
//! pulled in, because `memmove` is defined here too. Elsewhere the crate exports nothing and
//! the same code is reachable as ordinary functions, so every test build checks it.
//!
//! The crate is `no_builtins`: the compiler must not turn the loops below into calls to the very
//! functions they implement.

#![no_std]
#![no_builtins]

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "x86_64")]
pub use x86_64::{compare, copy, move_bytes};

/// The C entry points, for the static musl build only.
#[cfg(all(target_arch = "x86_64", target_env = "musl"))]
mod exported {
    use super::x86_64::{compare, copy, move_bytes};

    /// C `memcpy`.
    ///
    /// # Safety
    /// As C's: `src` readable and `dest` writable for `n` bytes, the two not overlapping.
    #[no_mangle]
    pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: the caller's contract is `copy`'s.
        unsafe { copy(dest, src, n) };
        dest
    }

    /// C `memmove`.
    ///
    /// # Safety
    /// As C's: `src` readable and `dest` writable for `n` bytes; they may overlap.
    #[no_mangle]
    pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: the caller's contract is `move_bytes`'.
        unsafe { move_bytes(dest, src, n) };
        dest
    }

    /// C `memcmp`.
    ///
    /// # Safety
    /// As C's: `a` and `b` readable for `n` bytes.
    #[no_mangle]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the caller's contract is `compare`'s.
        unsafe { compare(a, b, n) }
    }

    /// C `bcmp` (zero when equal, which `memcmp` also answers).
    ///
    /// # Safety
    /// As C's: `a` and `b` readable for `n` bytes.
    #[no_mangle]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: the caller's contract is `compare`'s.
        unsafe { compare(a, b, n) }
    }
}
