use clap::Args;

use super::{Context, ManifestPaths, Outcome};
use crate::Result;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub manifests: ManifestPaths,
}

pub fn run(args: ValidateArgs, ctx: &Context) -> Result<Outcome> {
    let loaded = args.manifests.load("validate")?;
    ctx.printer
        .status(&summary(loaded.files.len(), loaded.apps.len()));
    Ok(Outcome::Clean)
}

fn summary(files: usize, apps: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{} valid ({})",
        plural(files, "manifest", "manifests"),
        plural(apps, "application", "applications")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_summary_counts_files_and_applications() {
        assert_eq!(super::summary(1, 1), "1 manifest valid (1 application)");
        assert_eq!(super::summary(3, 5), "3 manifests valid (5 applications)");
    }
}
