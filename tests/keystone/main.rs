//! Integration tests of the Keystone v3 client of `mercador-core` against the
//! testbed's two real Keystones (`testbed/testbed.sh start`).
//!
//! Every test names its objects with `unique()` and deletes them again, also
//! when it fails (see [`common::Cleanup`]), so the tests run in parallel and
//! can be re-run on the same testbed. None of them counts a global collection.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns too: failing loudly is the point

mod auth;
mod cli;
mod common;
mod errors;
mod federation;
mod limits;
mod resources;
mod tokens;
