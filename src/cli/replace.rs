//! `--replace ADDRESS` (Terraform's `-replace=ADDRESS`): rotate a generated certificate now,
//! e.g. after its PFX leaked. Terraform spells its flags with one dash; clap wants two for a
//! long option, so [`terraform_spelling`] rewrites `-replace` before clap parses the line.

use std::collections::BTreeSet;
use std::ffi::OsString;

use clap::Args;

use crate::Result;
use crate::model::DesiredApp;
use crate::plan::Address;

#[derive(Debug, Clone, Args)]
pub struct ReplaceArgs {
    /// Rotate this generated certificate now, whatever its expiry (repeatable; Terraform's
    /// `-replace=ADDRESS` spelling works too), e.g. `--replace 'certificate.my-app["automation"]'`
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub addresses: Vec<Address>,
}

impl ReplaceArgs {
    /// The addresses, each checked against the manifests' generated certificates before any
    /// tenant is contacted.
    pub fn checked(&self, desired: &[DesiredApp]) -> Result<BTreeSet<Address>> {
        let replace: BTreeSet<Address> = self.addresses.iter().cloned().collect();
        let problems = crate::planner::check_replace(desired, &replace);
        if problems.is_empty() {
            return Ok(replace);
        }
        let message = problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("\nerror: ");
        let mut hints: Vec<String> = problems.iter().flat_map(|p| p.help.clone()).collect();
        hints.dedup();
        Err(crate::Error::usage_with_hint(message, hints.join("; ")))
    }
}

/// The command line with Terraform's `-replace=ADDRESS` and `-replace ADDRESS` spelled the way
/// clap reads them (`--replace`). Nothing after `--` is touched (it may be a file name), and
/// nothing else is: `-r` and every other argument keep their meaning.
pub fn terraform_spelling(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    for arg in args.by_ref() {
        if arg == "--" {
            out.push(arg);
            break;
        }
        let rewritten = arg.to_str().and_then(|a| {
            (a == "-replace" || a.starts_with("-replace=")).then(|| OsString::from(format!("-{a}")))
        });
        out.push(rewritten.unwrap_or(arg));
    }
    out.extend(args);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        terraform_spelling(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn terraforms_single_dash_spelling_becomes_the_long_option() {
        assert_eq!(
            rewrite(&["entraform", "plan", r#"-replace=certificate.a["x"]"#, "m/"]),
            ["entraform", "plan", r#"--replace=certificate.a["x"]"#, "m/"]
        );
        assert_eq!(
            rewrite(&["entraform", "apply", "-replace", "certificate.a[\"x\"]"]),
            ["entraform", "apply", "--replace", "certificate.a[\"x\"]"]
        );
    }

    #[test]
    fn other_arguments_and_anything_after_a_double_dash_are_left_alone() {
        let args = [
            "entraform",
            "plan",
            "--replace=certificate.a[\"x\"]",
            "-r",
            "-replacement",
            "--",
            "-replace=file.yaml",
        ];
        assert_eq!(rewrite(&args), args);
    }
}
