//! Raw bindings to the system DPDK. Not generated yet: see the dpdk-io
//! issue. Nothing here is usable until then.
