//! The server's allocator: mimalloc instead of glibc's malloc.
//!
//! Under load, glibc's arena locks and cross-thread frees (a request's
//! buffers freed by the log writer) cost about a fifth of a checkout page
//! (`bench/README.md`, "Allocator"). mimalloc is built without transparent
//! huge pages (`no_thp`), which would triple the footprint at rest, and
//! [`tune`] makes it return freed memory to the OS at once: with its default
//! delay, nothing returns the 19 MiB a password hash (argon2id) used until
//! the process next allocates, so an idle server stayed at twice its size.

/// The allocator, for `#[global_allocator]` in the binary.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc's `mi_option_purge_delay` in the `mi_option_t` enum of the
/// mimalloc this crate is built with (`include/mimalloc.h` of
/// libmimalloc-sys 0.1.49, mimalloc 3): the crate names no constant for it.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The option's default (milliseconds) in that mimalloc; read back before
/// it is changed, so that an upgrade that moved the enum changes nothing.
const PURGE_DELAY_DEFAULT: std::ffi::c_long = 1000;

/// Freed memory goes back to the OS at once (purge delay 0) instead of a
/// second later at the next allocation. Returns whether the option was
/// found and set (false: a different mimalloc, left at its defaults).
pub fn tune() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: mi_option_get and mi_option_set read and write one entry of
    // mimalloc's option table, for any index below `_mi_option_last`
    // (15 is, in every mimalloc 2 and 3); they take no pointers and may be
    // called from any thread at any time.
    unsafe {
        if libmimalloc_sys::mi_option_get(PURGE_DELAY) != PURGE_DELAY_DEFAULT {
            return false;
        }
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_get(PURGE_DELAY) == 0
    }
}

#[cfg(test)]
mod tests {
    #[global_allocator]
    static ALLOCATOR: super::Allocator = super::Allocator;

    /// The option index matches the mimalloc linked in: its default is read
    /// back, then set.
    #[test]
    fn the_purge_delay_is_found_and_set() {
        assert!(super::tune());
    }
}
