//! A cpio "newc" archive writer: the initramfs format Linux unpacks. Written
//! here rather than calling `cpio` so that device nodes and root ownership
//! need no privileges and the archive is the same on every run.

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { path: String },
    File { path: String, data: Vec<u8>, executable: bool },
    Symlink { path: String, target: String },
    CharDev { path: String, major: u32, minor: u32 },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn header(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, size: usize, rdev: (u32, u32), name: &str) {
    // namesize counts the NUL; the fields are 8 hex digits each.
    let fields = [ino, mode, 0, 0, nlink, 0, size as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
}

/// The archive for `entries`, in order (parents must come before children).
pub fn archive(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let ino = i as u32 + 1;
        let (path, mode, nlink, data, rdev): (&str, u32, u32, &[u8], (u32, u32)) = match e {
            Entry::Dir { path } => (path, S_IFDIR | 0o755, 2, &[], (0, 0)),
            Entry::File { path, data, executable } => {
                (path, S_IFREG | if *executable { 0o755 } else { 0o644 }, 1, data, (0, 0))
            }
            Entry::Symlink { path, target } => (path, S_IFLNK | 0o777, 1, target.as_bytes(), (0, 0)),
            Entry::CharDev { path, major, minor } => (path, S_IFCHR | 0o600, 1, &[], (*major, *minor)),
        };
        header(&mut out, ino, mode, nlink, data.len(), rdev, path.trim_start_matches('/'));
        out.extend_from_slice(data);
        pad4(&mut out);
    }
    header(&mut out, 0, 0, 1, 0, (0, 0), "TRAILER!!!");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(rec: &[u8], n: usize) -> u32 {
        let s = std::str::from_utf8(&rec[6 + 8 * n..14 + 8 * n]).unwrap();
        u32::from_str_radix(s, 16).unwrap()
    }

    #[test]
    fn file_record_has_newc_layout_and_alignment() {
        let a = archive(&[Entry::File { path: "/init".into(), data: b"abcde".to_vec(), executable: true }]);
        assert_eq!(&a[..6], b"070701");
        assert_eq!(field(&a, 1), S_IFREG | 0o755);
        assert_eq!(field(&a, 6), 5, "filesize");
        assert_eq!(field(&a, 11), 5, "namesize counts the NUL of \"init\"");
        // 110-byte header + "init\0" = 115, padded to 116; data at 116.
        assert_eq!(&a[110..115], b"init\0");
        assert_eq!(&a[116..121], b"abcde");
        // Data padded to 124, then the trailer record.
        assert_eq!(&a[124..130], b"070701");
        assert!(a.ends_with(&[0]) && a.len().is_multiple_of(4));
        assert!(a.windows(10).any(|w| w == b"TRAILER!!!"));
    }

    #[test]
    fn device_nodes_carry_their_numbers() {
        let a = archive(&[Entry::CharDev { path: "dev/console".into(), major: 5, minor: 1 }]);
        assert_eq!(field(&a, 1), S_IFCHR | 0o600);
        assert_eq!((field(&a, 9), field(&a, 10)), (5, 1));
    }

    #[test]
    fn symlink_data_is_its_target() {
        let a = archive(&[Entry::Symlink { path: "bin/sh".into(), target: "busybox".into() }]);
        assert_eq!(field(&a, 6), 7);
        // 110-byte header + "bin/sh\0" = 117, padded to 120.
        assert_eq!(&a[120..127], b"busybox");
    }
}
