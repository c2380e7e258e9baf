//! Pure: (desired, live) -> changes. No IO.
