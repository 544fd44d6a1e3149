//! Checks of built packages in the spirit of lintian (which is not
//! installed here): what `dpkg-deb -I` and `-c` say must match the layout,
//! ownership and modes Debian policy asks for, and the DKMS tree must be
//! complete. Each problem is one line naming the package.

use super::dkms;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// One line of `dpkg-deb -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub mode: String,
    pub owner: String,
    /// Without the leading `./`; folders end in `/`.
    pub path: String,
    pub link: Option<String>,
}

/// Parses `dpkg-deb -c` (tar's verbose listing).
pub fn parse_listing(text: &str) -> Vec<Member> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let mode = f.next()?.to_string();
            let owner = f.next()?.to_string();
            let rest: Vec<&str> = f.skip(3).collect();
            let joined = rest.join(" ");
            let (path, link) = match joined.split_once(" -> ") {
                Some((p, t)) => (p.to_string(), Some(t.to_string())),
                None => (joined, None),
            };
            Some(Member { mode, owner, path: path.trim_start_matches("./").to_string(), link })
        })
        .filter(|m| !m.path.is_empty())
        .collect()
}

/// The value of a field in `dpkg-deb -I` output (control fields indented by one space).
pub fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.trim_start().strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

/// What a package must hold, beyond the common rules.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub arch: &'a str,
    /// Paths (no leading slash) that must be in it.
    pub paths: Vec<String>,
    /// (link path, target) pairs.
    pub links: Vec<(String, String)>,
    pub depends_on: Vec<&'a str>,
}

/// Every problem with one package's listing and control data (empty: clean).
pub fn problems(info: &str, members: &[Member], want: &Expect) -> Vec<String> {
    let mut p = Vec::new();
    for (f, v) in [("Package", want.name), ("Version", want.version), ("Architecture", want.arch)] {
        if field(info, f) != Some(v) {
            p.push(format!("{f} is {:?}, expected {v:?}", field(info, f)));
        }
    }
    for f in ["Maintainer", "Installed-Size", "Description", "Section", "Priority"] {
        if field(info, f).is_none_or(str::is_empty) {
            p.push(format!("control has no {f}"));
        }
    }
    let depends = field(info, "Depends").unwrap_or("");
    for d in &want.depends_on {
        if !depends.split(',').any(|x| x.split_whitespace().next() == Some(*d)) {
            p.push(format!("does not depend on {d}"));
        }
    }
    let copyright = format!("usr/share/doc/{}/copyright", want.name);
    for must in want.paths.iter().chain(std::iter::once(&copyright)) {
        if !members.iter().any(|m| m.path == *must) {
            p.push(format!("{must} is missing"));
        }
    }
    for (link, target) in &want.links {
        match members.iter().find(|m| m.path == *link) {
            Some(m) if m.link.as_deref() == Some(target) => {}
            other => p.push(format!("{link} should link to {target}, is {other:?}")),
        }
    }
    for m in members {
        if m.owner != "root/root" {
            p.push(format!("{} is owned by {}, not root/root", m.path, m.owner));
        }
        let allowed = ["usr/", "lib/", "etc/"].iter().any(|top| m.path.starts_with(top) || top.starts_with(&m.path));
        if !allowed || m.path.starts_with("usr/local/") || m.path.starts_with("lib/modules/") {
            p.push(format!("{} is outside the folders a package may fill", m.path));
        }
        let is_dir = m.mode.starts_with('d');
        let is_link = m.mode.starts_with('l');
        let exec_place = m.path.starts_with("usr/sbin/") || m.path.starts_with("usr/bin/");
        let expect = if is_dir || (exec_place && !is_link) { "rwxr-xr-x" } else { "rw-r--r--" };
        if !is_link && m.mode.get(1..) != Some(expect) {
            p.push(format!("{} has mode {}, expected {expect}", m.path, m.mode));
        }
        if m.path.starts_with("usr/share/man/") && !is_dir && !m.path.ends_with(".gz") {
            p.push(format!("{}: man pages are gzipped", m.path));
        }
    }
    p
}

/// DKMS metadata of an unpacked `syshyper-dkms` tree (`/usr/src/syshyper-VERSION`).
pub fn dkms_problems(tree: &Path, version: &str) -> Result<Vec<String>> {
    let mut p = Vec::new();
    let conf = std::fs::read_to_string(tree.join("dkms.conf")).context("no dkms.conf in the DKMS tree")?;
    let dir = tree.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = dkms::conf_value(&conf, "PACKAGE_NAME").unwrap_or("");
    let ver = dkms::conf_value(&conf, "PACKAGE_VERSION").unwrap_or("");
    if dir != format!("{name}-{ver}") {
        p.push(format!("DKMS tree {dir} is not PACKAGE_NAME-PACKAGE_VERSION ({name}-{ver})"));
    }
    if ver != version {
        p.push(format!("dkms.conf PACKAGE_VERSION {ver:?}, package version {version:?}"));
    }
    for key in ["BUILT_MODULE_NAME[0]", "DEST_MODULE_LOCATION[0]", "MAKE[0]", "CLEAN"] {
        if dkms::conf_value(&conf, key).is_none_or(str::is_empty) {
            p.push(format!("dkms.conf has no {key}"));
        }
    }
    let module = dkms::conf_value(&conf, "BUILT_MODULE_NAME[0]").unwrap_or("");
    let kbuild = std::fs::read_to_string(tree.join("Kbuild")).context("no Kbuild in the DKMS tree")?;
    if !kbuild.lines().any(|l| l.split_once(":=").is_some_and(|(k, v)| k.trim() == "obj-m" && v.trim() == format!("{module}.o"))) {
        p.push(format!("Kbuild's obj-m is not {module}.o"));
    }
    let objects = dkms::kbuild_objects(&kbuild);
    if objects.is_empty() {
        p.push("Kbuild lists no objects".into());
    }
    for o in objects {
        let c = o.replace(".o", ".c");
        if !tree.join(&c).is_file() {
            p.push(format!("{c} (for {o}) is missing from the DKMS tree"));
        }
    }
    Ok(p)
}

fn dpkg_deb(flag: &str, deb: &Path) -> Result<String> {
    let out = crate::cmd::output(Command::new("dpkg-deb").arg(flag).arg(deb))?;
    if !out.status.success() {
        bail!("dpkg-deb {flag} {} failed: {}", deb.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Checks one built package; fails with every problem, one per line.
pub fn check_deb(deb: &Path, want: &Expect) -> Result<usize> {
    let info = dpkg_deb("-I", deb)?;
    let members = parse_listing(&dpkg_deb("-c", deb)?);
    let p = problems(&info, &members, want);
    if !p.is_empty() {
        bail!("{} fails its checks:\n  {}", deb.display(), p.join("\n  "));
    }
    Ok(members.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
drwxr-xr-x root/root         0 2026-12-06 19:00 ./
drwxr-xr-x root/root         0 2026-12-06 19:00 ./usr/
drwxr-xr-x root/root         0 2026-12-06 19:00 ./usr/sbin/
-rwxr-xr-x root/root    123456 2026-12-06 19:00 ./usr/sbin/syshyper
lrwxrwxrwx root/root         0 2026-12-06 19:00 ./usr/sbin/jailhouse -> syshyper
drwxr-xr-x root/root         0 2026-12-06 19:00 ./usr/share/doc/syshyper/
-rw-r--r-- root/root       100 2026-12-06 19:00 ./usr/share/doc/syshyper/copyright
";
    const INFO: &str = " new Debian package, version 2.0.\n Package: syshyper\n Version: 0.1.0\n Architecture: arm64\n Maintainer: m\n Installed-Size: 3\n Depends: libc6 (>= 2), dkms\n Section: admin\n Priority: optional\n Description: d\n";

    fn want() -> Expect<'static> {
        Expect {
            name: "syshyper",
            version: "0.1.0",
            arch: "arm64",
            paths: vec!["usr/sbin/syshyper".into()],
            links: vec![("usr/sbin/jailhouse".into(), "syshyper".into())],
            depends_on: vec!["dkms"],
        }
    }

    #[test]
    fn a_clean_package_has_no_problems() {
        let m = parse_listing(LISTING);
        let link = m.iter().find(|m| m.path == "usr/sbin/jailhouse").unwrap();
        assert_eq!(link.link.as_deref(), Some("syshyper"));
        assert!(m.iter().any(|m| m.path == "usr/share/doc/syshyper/copyright" && m.mode == "-rw-r--r--"));
        assert_eq!(problems(INFO, &m, &want()), Vec::<String>::new());
    }

    #[test]
    fn each_kind_of_problem_is_found() {
        let bad = LISTING
            .replace("-rwxr-xr-x root/root    123456", "-rw-r--r-- user/user    123456")
            .replace("-> syshyper", "-> /bin/false")
            + "-rw-r--r-- root/root 1 2026-12-06 19:00 ./usr/local/x\n-rw-r--r-- root/root 1 2026-12-06 19:00 ./usr/share/man/man8/a.8\n";
        let info = INFO.replace("Version: 0.1.0", "Version: 0.2").replace(" Depends: libc6 (>= 2), dkms\n", "");
        let p = problems(&info, &parse_listing(&bad), &want());
        for needle in ["Version is", "owned by user/user", "has mode", "should link to syshyper", "usr/local/x is outside", "gzipped", "depend on dkms"] {
            assert!(p.iter().any(|x| x.contains(needle)), "{needle}: {p:?}");
        }
    }

    #[test]
    fn dkms_tree_of_the_driver_passes_and_a_broken_one_does_not() {
        let tree = std::env::temp_dir().join(format!("xtask-dkms-{}/syshyper-0.1.0", std::process::id()));
        std::fs::create_dir_all(&tree).unwrap();
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("../driver");
        for e in std::fs::read_dir(&driver).unwrap() {
            let p = e.unwrap().path();
            if dkms::is_source(&p.file_name().unwrap().to_string_lossy()) {
                std::fs::copy(&p, tree.join(p.file_name().unwrap())).unwrap();
            }
        }
        std::fs::write(tree.join("dkms.conf"), dkms::conf("0.1.0")).unwrap();
        assert_eq!(dkms_problems(&tree, "0.1.0").unwrap(), Vec::<String>::new());
        assert!(dkms_problems(&tree, "0.2.0").unwrap().iter().any(|p| p.contains("PACKAGE_VERSION")));
        std::fs::remove_file(tree.join("cell.c")).unwrap();
        assert!(dkms_problems(&tree, "0.1.0").unwrap().iter().any(|p| p.contains("cell.c")));
        std::fs::remove_dir_all(tree.parent().unwrap()).unwrap();
    }
}
