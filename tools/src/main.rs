//! The `syshyper` binary (also run as `jailhouse`): everything is in the
//! library (src/lib.rs), which `cargo xtask dist` shares for the man page.

fn main() -> std::process::ExitCode {
    syshyper_tools::main()
}
