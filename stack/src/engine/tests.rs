//! Unit tests of the engine (see the tests/ crate for simulations).
