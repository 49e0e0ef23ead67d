//! The x86-64 routines behind the C names.

use core::arch::asm;
use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};

/// Copies `n` bytes from `src` to `dest`; correct when they do not overlap, or when `dest` is
/// below `src` or `n` bytes or more above it.
///
/// # Safety
/// `src` readable and `dest` writable for `n` bytes.
#[inline]
pub unsafe fn copy(dest: *mut u8, src: *const u8, n: usize) {
    if n <= 32 {
        // SAFETY: the caller's contract.
        unsafe { copy_short(dest, src, n) };
        return;
    }
    // SAFETY: the caller's contract; the direction flag is clear at every call (System V
    // ABI), so `rep movsb` copies `rcx` bytes upwards from `rsi` to `rdi`.
    unsafe {
        asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dest => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
}

/// Copies `n` bytes from `src` to `dest`, which may overlap in any way (C's `memmove`).
///
/// # Safety
/// `src` readable and `dest` writable for `n` bytes.
#[inline]
pub unsafe fn move_bytes(dest: *mut u8, src: *const u8, n: usize) {
    // Short copies load everything before they store; a destination below the source, or not
    // within `n` bytes above it, can be copied forwards (the subtraction wraps to a large
    // number when `dest` is below `src`).
    if n <= 32 || (dest as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: the caller's contract; forwards is correct for this overlap.
        unsafe { copy(dest, src, n) };
        return;
    }
    // SAFETY: the caller's contract; `dest` lies within `n` bytes above `src`. With the
    // direction flag set, `rep movsb` copies downwards from the last byte; the flag is cleared
    // again before returning, as the ABI requires. `n > 32`, so the last bytes are at `n - 1`.
    unsafe {
        asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dest.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack)
        );
    }
}

/// Copies at most 32 bytes with loads that may overlap, all of them before any store.
///
/// # Safety
/// `n <= 32`; `src` readable and `dest` writable for `n` bytes.
#[inline(always)]
unsafe fn copy_short(dest: *mut u8, src: *const u8, n: usize) {
    // SAFETY (every branch): both accesses of each pair lie within the first `n` bytes, which
    // the caller vouches for; unaligned loads and stores are what these functions are for.
    unsafe {
        if n >= 16 {
            let head: __m128i = _mm_loadu_si128(src.cast());
            let tail: __m128i = _mm_loadu_si128(src.add(n - 16).cast());
            _mm_storeu_si128(dest.cast(), head);
            _mm_storeu_si128(dest.add(n - 16).cast(), tail);
        } else if n >= 8 {
            let head = src.cast::<u64>().read_unaligned();
            let tail = src.add(n - 8).cast::<u64>().read_unaligned();
            dest.cast::<u64>().write_unaligned(head);
            dest.add(n - 8).cast::<u64>().write_unaligned(tail);
        } else if n >= 4 {
            let head = src.cast::<u32>().read_unaligned();
            let tail = src.add(n - 4).cast::<u32>().read_unaligned();
            dest.cast::<u32>().write_unaligned(head);
            dest.add(n - 4).cast::<u32>().write_unaligned(tail);
        } else if n >= 2 {
            let head = src.cast::<u16>().read_unaligned();
            let tail = src.add(n - 2).cast::<u16>().read_unaligned();
            dest.cast::<u16>().write_unaligned(head);
            dest.add(n - 2).cast::<u16>().write_unaligned(tail);
        } else if n == 1 {
            *dest = *src;
        }
    }
}

/// Compares `n` bytes as C's `memcmp` does: negative, zero or positive as the first byte that
/// differs is smaller in `a`, absent, or larger in `a`.
///
/// # Safety
/// `a` and `b` readable for `n` bytes.
#[inline]
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    // SAFETY (both loops): every access is below `n`, which the caller vouches for.
    unsafe {
        while i + 8 <= n {
            // Big-endian, the first byte is the most significant: the numbers order as the
            // bytes do.
            let x = u64::from_be(a.add(i).cast::<u64>().read_unaligned());
            let y = u64::from_be(b.add(i).cast::<u64>().read_unaligned());
            if x != y {
                return if x < y { -1 } else { 1 };
            }
            i += 8;
        }
        while i < n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
            i += 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A buffer whose every byte differs from its neighbours, so a byte copied from the wrong
    /// place shows.
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    const SIZES: core::ops::RangeInclusive<usize> = 0..=300;

    #[test]
    fn copies_every_length_at_every_alignment_and_nothing_else() {
        for n in SIZES {
            for src_off in 0..8 {
                for dest_off in 0..8 {
                    let src = pattern(n + 16, 7);
                    let mut dest = std::vec![0xAAu8; n + 16];
                    // SAFETY: both buffers hold `offset + n` bytes and are distinct.
                    unsafe {
                        copy(
                            dest.as_mut_ptr().add(dest_off),
                            src.as_ptr().add(src_off),
                            n,
                        )
                    };
                    assert_eq!(&dest[dest_off..dest_off + n], &src[src_off..src_off + n]);
                    assert!(dest[..dest_off].iter().all(|&b| b == 0xAA), "n={n}");
                    assert!(dest[dest_off + n..].iter().all(|&b| b == 0xAA), "n={n}");
                }
            }
        }
    }

    #[test]
    fn moves_overlapping_ranges_in_either_direction() {
        for n in SIZES {
            for shift in [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64] {
                for (from, to) in [(0, shift), (shift, 0)] {
                    let original = pattern(n + 80, 3);
                    let mut buf = original.clone();
                    let base = buf.as_mut_ptr();
                    // SAFETY: `from + n` and `to + n` are at most `n + 64 < buf.len()`.
                    unsafe { move_bytes(base.add(to), base.add(from), n) };
                    let mut expected = original.clone();
                    expected.copy_within(from..from + n, to);
                    assert_eq!(buf, expected, "n={n} from={from} to={to}");
                }
            }
        }
    }

    #[test]
    fn compares_like_c_at_every_position_of_the_first_difference() {
        for n in SIZES {
            let a = pattern(n, 11);
            // SAFETY: both slices hold `n` bytes.
            assert_eq!(unsafe { compare(a.as_ptr(), a.clone().as_ptr(), n) }, 0);
            for at in 0..n {
                for delta in [1u8, 0x80, 0xFF] {
                    let mut b = a.clone();
                    b[at] = b[at].wrapping_add(delta);
                    // A later byte that differs the other way must not decide.
                    if at + 1 < n {
                        b[at + 1] = b[at + 1].wrapping_sub(1);
                    }
                    // SAFETY: both slices hold `n` bytes.
                    let got = unsafe { compare(a.as_ptr(), b.as_ptr(), n) };
                    assert_eq!(got.signum(), (a.cmp(&b) as i32).signum(), "n={n} at={at}");
                    // SAFETY: as above.
                    let back = unsafe { compare(b.as_ptr(), a.as_ptr(), n) };
                    assert_eq!(back.signum(), -got.signum(), "n={n} at={at}");
                }
            }
        }
    }
}
