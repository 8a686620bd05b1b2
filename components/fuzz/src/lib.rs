//! Fuzz targets for the parsers that read client input (issue #24, "Reliability"): one
//! [`Target`] per parser, each a function of bytes that calls the real parser and panics when a
//! property fails, and [`driver`], which replays each target's committed corpus
//! (`corpus/<target>/`) and then mutates it for a time, from a seed.
//!
//! `cargo test -p edgewrite-fuzz` runs every target over its corpus plus about two seconds of
//! mutations from a fixed seed; `cargo xtask fuzz --seconds N [target…]` runs them longer, from
//! a random seed it prints (`--seed S` replays one).
//!
//! ```
//! use edgewrite_fuzz::{driver, target, Budget};
//! // The corpus, then 100 mutations (or 5 seconds, whichever ends first) from seed 1.
//! let budget = Budget { time: std::time::Duration::from_secs(5), runs: 100 };
//! let report = driver::fuzz(target("permissions").unwrap(), 1, budget);
//! assert!(report.crash.is_none() && report.runs == 100);
//! ```

pub mod driver;
pub mod targets;

pub use driver::{Budget, Report, Target};

/// Every target, in the order they run.
pub static TARGETS: &[Target] = &[
    targets::query::TARGET,
    targets::params::TARGET,
    targets::permissions::TARGET,
    targets::content_range::TARGET,
    targets::cookies::TARGET,
    targets::jwt::TARGET,
    targets::realtime::TARGET,
    targets::upload::TARGET,
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
