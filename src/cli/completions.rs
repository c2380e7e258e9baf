use clap::Args;
use clap_complete::Shell;

use super::{Context, Outcome, command};
use crate::Result;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run_completions(args: CompletionsArgs, ctx: &Context) -> Result<Outcome> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command(), "entraform", &mut out);
    ctx.printer.data(&String::from_utf8_lossy(&out));
    Ok(Outcome::Clean)
}

pub fn run_man(ctx: &Context) -> Result<Outcome> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command())
        .render(&mut out)
        .map_err(|e| crate::Error::io("cannot render the man page", e))?;
    ctx.printer.data(&String::from_utf8_lossy(&out));
    Ok(Outcome::Clean)
}
