//! What commands do, step by step: the IO in order around the pure core. Commands in `cli/`
//! parse flags and call these (cargo keeps the same split between `commands/` and `ops/`).

pub mod apply;
pub mod certs;
pub mod export;
pub mod plan;
pub mod test_login;
