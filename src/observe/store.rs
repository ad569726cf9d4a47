//! Bounded per-series stores of probe results, shared by the real probe engine and the simulator.
