//! What a change does to one addressed object, with Terraform's symbols and names.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Terraform's action set (`internal/plans/action.go`). Certificate rotation is
/// [`Action::CreateThenDelete`]: the new key is attached before the old one is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    DeleteThenCreate,
    CreateThenDelete,
    Delete,
    /// Bring back an object from Entra ID's deleted items, with its ids (entraform's own; shown
    /// the way Terraform shows an import: no symbol, its own count in the summary).
    Restore,
}

impl Action {
    /// The symbol printed before a change block.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::DeleteThenCreate => "-/+",
            Action::CreateThenDelete => "+/-",
            Action::Delete => "-",
            Action::Restore => " ",
        }
    }

    /// The name used in JSON and markdown (`create`, `create-then-delete`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::DeleteThenCreate => "delete-then-create",
            Action::CreateThenDelete => "create-then-delete",
            Action::Delete => "delete",
            Action::Restore => "restore",
        }
    }

    /// How the legend explains the symbol (Terraform's wording).
    pub fn legend(self) -> &'static str {
        match self {
            Action::NoOp => "no change",
            Action::Create => "create",
            Action::Update => "update in place",
            Action::DeleteThenCreate => "destroy and then create replacement",
            Action::CreateThenDelete => "create replacement and then destroy",
            Action::Delete => "destroy",
            Action::Restore => "restore from deleted items",
        }
    }

    /// The end of `# <address> will be ...`.
    pub fn headline(self) -> &'static str {
        match self {
            Action::NoOp => "is unchanged",
            Action::Create => "will be created",
            Action::Update => "will be updated in place",
            Action::DeleteThenCreate | Action::CreateThenDelete => "will be replaced",
            Action::Delete => "will be destroyed",
            Action::Restore => "will be restored",
        }
    }

    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    /// How many objects this action adds, changes and destroys; a replacement counts as one add
    /// and one destroy, as in Terraform. A restore is counted on its own (`Summary::restore`).
    pub fn counts(self) -> (usize, usize, usize) {
        match self {
            Action::NoOp | Action::Restore => (0, 0, 0),
            Action::Create => (1, 0, 0),
            Action::Update => (0, 1, 0),
            Action::DeleteThenCreate | Action::CreateThenDelete => (1, 0, 1),
            Action::Delete => (0, 0, 1),
        }
    }

    /// The order symbols appear in the legend.
    pub const LEGEND_ORDER: [Action; 5] = [
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::DeleteThenCreate,
        Action::CreateThenDelete,
    ];
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_are_the_documented_ones() {
        let names: Vec<String> = Action::LEGEND_ORDER
            .iter()
            .map(|a| {
                serde_json::to_value(a)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "create",
                "update",
                "delete",
                "delete-then-create",
                "create-then-delete"
            ]
        );
        for a in Action::LEGEND_ORDER {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
    }

    #[test]
    fn a_replacement_counts_as_one_add_and_one_destroy() {
        assert_eq!(Action::CreateThenDelete.counts(), (1, 0, 1));
        assert_eq!(Action::DeleteThenCreate.counts(), (1, 0, 1));
        assert_eq!(Action::Update.counts(), (0, 1, 0));
        assert_eq!(Action::NoOp.counts(), (0, 0, 0));
    }
}
