use crate::{CliResult, DataDirArg};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArg,
}

pub fn run(_args: ServeArgs) -> CliResult {
    Err("not implemented yet".into())
}
