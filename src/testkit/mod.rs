//! Support shared by the tests and the benchmarks, and not part of the product: no module of the
//! `sloop` library declares it, so none of it is compiled into `sloop`. The benchmark binary
//! (`src/bin/sloop-bench/main.rs`) and the test binaries that need it include it by path:
//!
//! ```text
//! #[path = "../../src/testkit/mod.rs"]
//! mod testkit;
//! ```
//!
//! It reaches the library as `sloop::`, like any other user of it.

// Each includer uses part of it (the tests the flood and the burn-rate pieces, the benchmarks
// nearly all of it).
#![allow(dead_code)]

pub mod agent_fed;
pub mod batch;
pub mod burn;
pub mod listen;
