//! The simulator: an in-process OpenStack-like world that the real reconcile loop runs against.
