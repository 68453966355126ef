//! Helpers shared by the integration tests. Each test binary uses a part
//! of them, so the rest is dead code there.
#![allow(dead_code)]

pub mod trees;

/// Runs `run(seed)` for every seed of `seeds`, or only for `MEMO_SEED` when
/// it is set; a failure names its seed so that it can be rerun alone.
pub fn run_seeds(seeds: std::ops::Range<u64>, run: impl Fn(u64) + std::panic::RefUnwindSafe) {
    if let Some(seed) = std::env::var("MEMO_SEED").ok().and_then(|s| s.parse().ok()) {
        return run(seed);
    }
    for seed in seeds {
        if std::panic::catch_unwind(|| run(seed)).is_err() {
            panic!("convergence failed for seed {seed}: rerun it with MEMO_SEED={seed}");
        }
    }
}
