//! One GPU device per test process, and the rule for tests that find none.

use std::sync::{Mutex, MutexGuard, OnceLock};

use lsnn_gpu::gpu::context::NO_ADAPTER_HELP;
use lsnn_gpu::gpu::{DeviceRequest, GpuContext};

/// Whether the run opted out of GPU tests explicitly (LSNN_SKIP_GPU_TESTS=1).
pub fn opted_out() -> bool {
    std::env::var("LSNN_SKIP_GPU_TESTS").is_ok_and(|v| v == "1")
}

/// The shared device, or None when the run opted out with LSNN_SKIP_GPU_TESTS=1.
/// A run that did not opt out and finds no adapter fails: a GPU test never passes silently.
pub fn gpu() -> Option<GpuContext> {
    static CTX: OnceLock<Option<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        if opted_out() {
            eprintln!("LSNN_SKIP_GPU_TESTS=1: skipping GPU tests");
            return None;
        }
        match GpuContext::open(&DeviceRequest::default()) {
            Ok(ctx) => {
                eprintln!("GPU tests on {}", ctx.describe());
                Some(ctx)
            }
            Err(e) => panic!("GPU test found no usable adapter ({e}). {NO_ADAPTER_HELP} Set LSNN_SKIP_GPU_TESTS=1 to skip GPU tests explicitly."),
        }
    })
    .clone()
}

/// Serialises GPU tests within a process: the GL backend binds its context to one thread
/// at a time, so tests on threads of their own must not use it concurrently.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Call at the start of a GPU test:
/// `let Some((ctx, _guard)) = require_gpu!() else { return };`
#[macro_export]
macro_rules! require_gpu {
    () => {{
        let guard = common::gpu::exclusive();
        match common::gpu::gpu() {
            Some(ctx) => Some((ctx, guard)),
            None => {
                eprintln!("skipped (LSNN_SKIP_GPU_TESTS=1)");
                None
            }
        }
    }};
}
