//! Commands that talk to the driver (`/dev/jailhouse`). Stub until the Linux side lands.

/// Top-level commands handled through the kernel driver.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Disable the hypervisor.
    Disable,
}

/// Runs one driver command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Disable => anyhow::bail!("disable: not implemented yet"),
    }
}
