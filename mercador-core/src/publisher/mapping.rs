//! The mapping rules the publisher writes.
