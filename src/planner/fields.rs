//! The plain fields of the application and its service principal ([`crate::model::fields`]):
//! each one the manifest sets is shown (before and after, under its plan name) and, when its
//! normalised value differs from the tenant's, written.

use super::Obj;
use crate::model::FieldValues;
use crate::model::On;
use crate::model::fields::fields_on;

/// Adds the fields `desired` sets on `on` to `before` (the tenant's values; `live` is `None`
/// for an object to create) and `after`, and returns those to write.
pub(crate) fn compare(
    on: On,
    desired: &FieldValues,
    live: Option<&FieldValues>,
    before: &mut Obj,
    after: &mut Obj,
) -> FieldValues {
    let mut changed = FieldValues::default();
    for f in fields_on(on) {
        let Some(want) = desired.get(f.path) else {
            continue;
        };
        let attr = f.attr();
        after.set(&attr, want.clone());
        match live {
            Some(live) => {
                let have = live
                    .get(f.path)
                    .cloned()
                    .unwrap_or_else(|| f.default_value());
                if have != *want {
                    changed.insert(f.path, want.clone());
                }
                before.set(&attr, have);
            }
            None => changed.insert(f.path, want.clone()),
        }
    }
    changed
}
