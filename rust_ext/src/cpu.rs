//! Run-time choice between the AVX2 kernels and their portable twins.

use std::sync::atomic::{AtomicBool, Ordering};

static PORTABLE_ONLY: AtomicBool = AtomicBool::new(false);

/// Force the portable kernels (tests compare them with the AVX2 ones).
pub fn set_portable_only(portable: bool) {
    PORTABLE_ONLY.store(portable, Ordering::Relaxed);
}

/// Whether the AVX2 kernels may run: the CPU has AVX2 and they are not disabled.
#[inline]
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !PORTABLE_ONLY.load(Ordering::Relaxed) && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The kernels in use: `"avx2"` or `"portable"`.
pub fn backend() -> &'static str {
    if avx2() {
        "avx2"
    } else {
        "portable"
    }
}
