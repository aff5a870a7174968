//! Benchmarks of the stack. The criterion benches live in `benches/`; the
//! wire tool comes with the DPDK runtime.
