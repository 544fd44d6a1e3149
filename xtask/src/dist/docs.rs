//! The tool's man pages and shell completions, generated from its one
//! command-line definition (`syshyper_tools::command`, clap).

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Man section of the tool: it administers the system (/usr/sbin).
pub const MAN_SECTION: &str = "8";

/// Writes one page per command and subcommand (`syshyper.8`,
/// `syshyper-cell-create.8`, ...) into `dir`; returns their paths.
pub fn man_pages(dir: &Path, version: &str) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = syshyper_tools::command("syshyper").disable_help_subcommand(true);
    // Fills in the subcommands' display names (syshyper-cell-create).
    cmd.build();
    let mut out = Vec::new();
    write_pages(cmd, dir, version, &mut out)?;
    out.sort();
    Ok(out)
}

fn write_pages(cmd: clap::Command, dir: &Path, version: &str, out: &mut Vec<PathBuf>) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, version, out)?;
    }
    let man = clap_mangen::Man::new(cmd)
        .section(MAN_SECTION)
        .source(format!("sysHyper {version}"))
        .manual("sysHyper");
    let path = man.generate_to(dir).with_context(|| format!("cannot write a man page into {}", dir.display()))?;
    out.push(path);
    Ok(())
}

/// Shell completions for `name` (`syshyper`, or `jailhouse`, the link):
/// (file name under the shell's completion folder, text).
pub fn completions(name: &'static str) -> Vec<(String, String, Vec<u8>)> {
    use clap_complete::{generate, Shell};
    [
        (Shell::Bash, "usr/share/bash-completion/completions", name.to_string()),
        (Shell::Zsh, "usr/share/zsh/vendor-completions", format!("_{name}")),
        (Shell::Fish, "usr/share/fish/vendor_completions.d", format!("{name}.fish")),
    ]
    .into_iter()
    .map(|(shell, dir, file)| {
        let mut text = Vec::new();
        generate(shell, &mut syshyper_tools::command(name), name, &mut text);
        (dir.to_string(), file, text)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_gets_a_page() {
        let dir = std::env::temp_dir().join(format!("xtask-man-{}", std::process::id()));
        let pages = man_pages(&dir, "9.9").unwrap();
        let names: Vec<String> = pages.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        for want in ["syshyper.8", "syshyper-enable.8", "syshyper-cell-create.8", "syshyper-config.8"] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        let main = std::fs::read_to_string(dir.join("syshyper.8")).unwrap();
        assert!(main.contains(".TH syshyper 8") && main.contains("sysHyper 9.9"), "{}", &main[..200.min(main.len())]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn completions_know_the_subcommands_under_both_names() {
        for name in ["syshyper", "jailhouse"] {
            let all = completions(name);
            assert_eq!(all.len(), 3);
            for (_, file, text) in all {
                let text = String::from_utf8(text).unwrap();
                assert!(file.contains(name) && text.contains(name) && text.contains("enable") && text.contains("create"), "{file}");
            }
        }
    }
}
