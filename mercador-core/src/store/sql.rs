//! [`SqlStore`]: SQLite or PostgreSQL through sqlx.

/// The SQL store (placeholder until implemented).
#[derive(Debug)]
pub struct SqlStore;
