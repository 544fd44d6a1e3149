//! One Debian binary package: its files, control fields and maintainer
//! scripts, staged in a folder and built with `dpkg-deb`.

use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Maintainer field of every package.
pub const MAINTAINER: &str = "sysHyper developers <syshyper@localhost.invalid>";

/// A member of the package's data (paths relative to /, no leading slash).
#[derive(Debug, Clone)]
pub enum Item {
    /// Contents and whether it is executable (0755, else 0644).
    File { dest: String, data: Vec<u8>, exec: bool },
    Link { dest: String, target: String },
}

#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    /// `arm64` or `all`.
    pub arch: &'static str,
    pub version: String,
    pub depends: Vec<String>,
    pub recommends: Vec<String>,
    pub section: &'static str,
    /// The one-line synopsis, then the long description.
    pub summary: String,
    pub description: String,
    pub items: Vec<Item>,
    /// Maintainer scripts (`postinst`, `prerm`) and their text.
    pub scripts: Vec<(&'static str, String)>,
}

impl Package {
    pub fn file_name(&self) -> String {
        format!("{}_{}_{}.deb", self.name, self.version, self.arch)
    }

    /// The control file; `installed_kib` from the staged data.
    pub fn control(&self, installed_kib: u64) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "Package: {}", self.name);
        let _ = writeln!(c, "Version: {}", self.version);
        let _ = writeln!(c, "Architecture: {}", self.arch);
        let _ = writeln!(c, "Maintainer: {MAINTAINER}");
        let _ = writeln!(c, "Installed-Size: {installed_kib}");
        if !self.depends.is_empty() {
            let _ = writeln!(c, "Depends: {}", self.depends.join(", "));
        }
        if !self.recommends.is_empty() {
            let _ = writeln!(c, "Recommends: {}", self.recommends.join(", "));
        }
        let _ = writeln!(c, "Section: {}", self.section);
        let _ = writeln!(c, "Priority: optional");
        let _ = writeln!(c, "Description: {}", self.summary);
        for line in self.description.lines() {
            let line = line.trim();
            let _ = writeln!(c, " {}", if line.is_empty() { "." } else { line });
        }
        c
    }

    /// Stages the package in `stage` (emptied first) and builds
    /// `out/<file_name>` with dpkg-deb; returns its path.
    pub fn build(&self, stage: &Path, out: &Path) -> Result<PathBuf> {
        if stage.exists() {
            std::fs::remove_dir_all(stage).with_context(|| format!("cannot clear {}", stage.display()))?;
        }
        let mut md5 = String::new();
        let mut bytes = 0u64;
        for item in &self.items {
            let dest = match item {
                Item::File { dest, .. } | Item::Link { dest, .. } => dest,
            };
            let path = stage.join(dest);
            let parent = path.parent().context("item without a folder")?;
            mkdirs(stage, parent)?;
            match item {
                Item::File { data, exec, .. } => {
                    std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))?;
                    set_mode(&path, if *exec { 0o755 } else { 0o644 })?;
                    let _ = writeln!(md5, "{}  {dest}", md5_hex(data));
                    bytes += data.len() as u64;
                }
                Item::Link { target, .. } => {
                    std::os::unix::fs::symlink(target, &path).with_context(|| format!("cannot link {}", path.display()))?;
                }
            }
        }
        let debian = stage.join("DEBIAN");
        mkdirs(stage, &debian)?;
        // Installed-Size counts KiB of data plus one per file, as dpkg-gencontrol does roughly.
        let kib = bytes.div_ceil(1024) + self.items.len() as u64;
        std::fs::write(debian.join("control"), self.control(kib))?;
        std::fs::write(debian.join("md5sums"), md5)?;
        set_mode(&debian.join("control"), 0o644)?;
        set_mode(&debian.join("md5sums"), 0o644)?;
        for (name, text) in &self.scripts {
            let p = debian.join(name);
            std::fs::write(&p, text)?;
            set_mode(&p, 0o755)?;
        }
        std::fs::create_dir_all(out)?;
        let deb = out.join(self.file_name());
        crate::cmd::run_quiet(
            Command::new("dpkg-deb").args(["--root-owner-group", "-Zxz", "--build"]).arg(stage).arg(&deb),
            &format!("dpkg-deb {}", self.file_name()),
        )?;
        Ok(deb)
    }
}

/// Creates `dir` and its parents below `stage` with mode 0755 whatever the umask.
fn mkdirs(stage: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut d = dir;
    while d.starts_with(stage) {
        set_mode(d, 0o755)?;
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(|| format!("cannot chmod {}", path.display()))
}

/// MD5 (RFC 1321) of `data`, for DEBIAN/md5sums (dpkg's integrity list,
/// not security).
pub fn md5_hex(data: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16,
        23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(abs(sin(i + 1)) * 2^32).
    let k: Vec<u32> = (0..64).map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32).collect();
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for chunk in msg.chunks_exact(64) {
        let m: Vec<u32> = chunk.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let t = d;
            d = c;
            c = b;
            b = b.wrapping_add(a.wrapping_add(f).wrapping_add(k[i]).wrapping_add(m[g]).rotate_left(S[i]));
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().flat_map(|w| w.to_le_bytes()).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321_and_md5sum() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        let long = vec![b'x'; 1000];
        let out = Command::new("md5sum").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&long)?;
            c.wait_with_output()
        });
        if let Ok(out) = out {
            assert!(String::from_utf8_lossy(&out.stdout).starts_with(&md5_hex(&long)));
        }
    }

    #[test]
    fn control_has_the_fields_dpkg_needs() {
        let p = Package {
            name: "x".into(),
            arch: "all",
            version: "1.0".into(),
            depends: vec!["dkms".into()],
            recommends: vec![],
            section: "kernel",
            summary: "s".into(),
            description: "a\n\nb".into(),
            items: vec![],
            scripts: vec![],
        };
        let c = p.control(3);
        assert!(c.contains("Package: x\nVersion: 1.0\nArchitecture: all\n"));
        assert!(c.contains("Depends: dkms\n") && !c.contains("Recommends"));
        assert!(c.ends_with("Description: s\n a\n .\n b\n"), "{c}");
        assert_eq!(p.file_name(), "x_1.0_all.deb");
    }
}
