//! Returning freed heap pages to the OS after each commit.
//!
//! Each batch's findings, their merged copies and the store's statements are freed between
//! long-lived allocations (the store's page cache grows meanwhile), so glibc's heaps keep the
//! holes resident and peak RSS would ratchet up with every batch, i.e. with the input size.
//! `malloc_trim` releases whole free pages anywhere in the heaps; it costs a few milliseconds per
//! commit. Other allocators and platforms return memory on their own terms: nothing to do there.

/// Hands the pages freed since the last call back to the OS (glibc only).
pub(crate) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only returns unused heap pages to the OS; it has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}
