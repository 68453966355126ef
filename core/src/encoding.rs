//! Encoding (to come).
