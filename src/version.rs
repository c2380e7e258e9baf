//! Version strings for `--version`: the crate version and the git commit it was built from.

pub const SHORT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("ENTRAFORM_GIT_COMMIT"),
    ")"
);

pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("ENTRAFORM_GIT_COMMIT"),
    "\ntarget: ",
    env!("ENTRAFORM_TARGET")
);
