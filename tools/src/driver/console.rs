//! `console [-f]`: the hypervisor console, as Jailhouse's tool reads it:
//! /dev/jailhouse in 128-byte reads, non-blocking (everything not yet read,
//! then end at the first empty read) or, with `-f`, blocking (follow).

use super::ioctl::DEVICE;
use anyhow::{bail, Context, Result};
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;

/// Jailhouse's tool reads this much at a time; the driver must give all
/// text, in order, to readers of any size.
const CHUNK: usize = 128;

/// O_NONBLOCK of Linux on arm64 and x86-64 (asm-generic/fcntl.h).
const O_NONBLOCK: i32 = 0o4000;

pub fn run(follow: bool) -> Result<()> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    if !follow {
        opts.custom_flags(O_NONBLOCK);
    }
    let mut dev = opts.open(DEVICE).map_err(|e| super::ioctl::open_error(&e))?;
    copy_console(&mut dev, &mut std::io::stdout().lock())
}

/// Copies `dev` to `out` chunk by chunk until a read returns 0.
/// EAGAIN is the driver's "the hypervisor is not enabled" (after any
/// saved console of the last session was printed).
fn copy_console(dev: &mut impl Read, out: &mut impl Write) -> Result<()> {
    let mut buf = [0u8; CHUNK];
    loop {
        let n = match dev.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                out.flush()?;
                bail!("the hypervisor is not enabled")
            }
            Err(e) => return Err(e).context("reading the hypervisor console"),
        };
        if n == 0 {
            out.flush()?;
            return Ok(());
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that hands out its text in reads of at most `max` bytes,
    /// then one error or end.
    struct Dev {
        text: Vec<u8>,
        pos: usize,
        max: usize,
        end: Option<ErrorKind>,
        reads: Vec<usize>,
    }

    impl Read for Dev {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.reads.push(buf.len());
            let n = buf.len().min(self.max).min(self.text.len() - self.pos);
            if n == 0 {
                if let Some(k) = self.end {
                    return Err(k.into());
                }
            }
            buf[..n].copy_from_slice(&self.text[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn dev(len: usize, max: usize, end: Option<ErrorKind>) -> Dev {
        let text = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        Dev { text, pos: 0, max, end, reads: Vec::new() }
    }

    #[test]
    fn copies_everything_in_128_byte_reads() {
        let mut d = dev(1000, usize::MAX, None);
        let mut out = Vec::new();
        copy_console(&mut d, &mut out).unwrap();
        assert_eq!(out, d.text);
        assert!(d.reads.iter().all(|&r| r == CHUNK), "{:?}", d.reads);
        // 7 full chunks, one short, one empty read ends it.
        assert_eq!(d.reads.len(), 9);
    }

    #[test]
    fn short_reads_keep_order() {
        let mut d = dev(300, 50, None);
        let mut out = Vec::new();
        copy_console(&mut d, &mut out).unwrap();
        assert_eq!(out, d.text);
    }

    #[test]
    fn eagain_after_text_is_not_enabled() {
        let mut d = dev(200, usize::MAX, Some(ErrorKind::WouldBlock));
        let mut out = Vec::new();
        let err = copy_console(&mut d, &mut out).unwrap_err();
        assert_eq!(out, d.text);
        assert!(err.to_string().contains("not enabled"), "{err}");
    }

    #[test]
    fn other_errors_are_reported() {
        let mut d = dev(0, usize::MAX, Some(ErrorKind::PermissionDenied));
        let err = copy_console(&mut d, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("reading the hypervisor console"), "{err}");
    }
}
