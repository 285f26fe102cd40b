use crate::{CliResult, DataDirArg};

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    #[command(flatten)]
    pub data: DataDirArg,
}

pub fn run(_args: IngestArgs) -> CliResult {
    Err("not implemented yet".into())
}
