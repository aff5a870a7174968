//! Segment-level tests of the TCB.
