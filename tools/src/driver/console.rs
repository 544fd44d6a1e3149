//! `console [-f]`: the hypervisor console, whole or followed.

use super::ioctl::Device;
use super::sysfs;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};

pub fn run(follow: bool) -> Result<()> {
    let root = sysfs::root()?;
    if !sysfs::enabled(&root)? {
        bail!("the hypervisor is not enabled");
    }
    let mut out = std::io::stdout().lock();
    if !follow {
        let text = std::fs::read(root.join("console")).context("cannot read the hypervisor console")?;
        out.write_all(&text)?;
        return Ok(());
    }
    // Reading the device blocks until new text arrives; EOF means disabled.
    let dev = Device::open()?;
    let mut file = dev.file();
    let mut buf = [0u8; 2048];
    loop {
        let n = file.read(&mut buf).context("reading the hypervisor console")?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}
