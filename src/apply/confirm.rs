//! The confirmation prompt, as Terraform asks it, and what counts as approval.

/// The question shown after the plan, before anything is written.
pub fn confirmation_prompt() -> String {
    "\nDo you want to perform these actions?\n  \
     entraform will perform the actions described above.\n  \
     Only 'yes' will be accepted to approve.\n"
        .to_owned()
}

/// Printed right before reading the answer, on the same line as the answer.
pub const ANSWER_PROMPT: &str = "\n  Enter a value: ";

/// Only `yes` approves (surrounding whitespace and the line end aside): not `y`, not `YES`.
pub fn approved(answer: &str) -> bool {
    answer.trim() == "yes"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_approves() {
        assert!(approved("yes\n"));
        assert!(approved("  yes \r\n"));
        for no in ["", "\n", "y", "Yes", "YES", "yes please", "no", "ye s"] {
            assert!(!approved(no), "{no:?}");
        }
    }

    #[test]
    fn the_prompt_says_what_terraform_says() {
        let p = confirmation_prompt();
        assert!(p.contains("Do you want to perform these actions?"));
        assert!(p.contains("Only 'yes' will be accepted to approve."));
        assert!(ANSWER_PROMPT.ends_with("Enter a value: "));
    }
}
