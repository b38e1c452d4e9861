//! Runnable examples live next to this file: `cargo run -p mercador-examples --example <name>`.
