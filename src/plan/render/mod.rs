//! Renderers: pure functions from a plan to text. Colour only when asked.

mod markdown;
mod text;
mod values;

pub use markdown::markdown;
pub use text::text;

/// `plan --format json`: the stable document described in `docs/plan-format.md`. JSON is never
/// coloured; the flag is there so every renderer has one signature.
pub fn json(plan: &super::Plan, _color: bool) -> String {
    super::file::to_json(plan)
}
