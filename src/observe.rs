//! Graph -> live model, with fingerprints.
