//! Criterion benchmarks of Gatehouse live in `benches/`; this library is empty on purpose.
//! Run them with `scripts/bench` (it makes a fresh SoftHSM2 token first).
