//! The one thing every layer's error shares: it may know the obvious next step for the user.
//! A leaf: it imports nothing, so any layer can implement it without depending on another.

/// An error that may know the obvious next step for the user, printed as a `hint:` line under
/// the error.
pub trait Hint {
    fn hint(&self) -> Option<String> {
        None
    }
}
