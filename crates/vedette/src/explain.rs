use crate::{CliResult, DataDirArg};

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub data: DataDirArg,
}

pub fn run(_args: ExplainArgs) -> CliResult {
    Err("not implemented yet".into())
}
