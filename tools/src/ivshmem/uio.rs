//! An ivshmem UIO device (docs/ivshmem.md "Root Linux: UIO"): found by its
//! name in /sys/class/uio, its maps mapped by the UIO rule (map i at file
//! offset i * page size), interrupts waited for with poll() and read().
//! Every access to the mappings goes through this file.

use anyhow::{bail, Context, Result};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use rustix::event::Timespec;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CLASS_DIR: &str = "/sys/class/uio";
/// Jailhouse's uio_ivshmem names its devices `uio_ivshmem[<PCI address>]`.
const NAME: &str = "uio_ivshmem";

/// BAR0 register offsets.
const REG_ID: usize = 0x00;
const REG_MAX_PEERS: usize = 0x04;
const REG_INT_CONTROL: usize = 0x08;
const REG_DOORBELL: usize = 0x0c;
const REG_STATE: usize = 0x10;

/// One map as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    pub name: String,
    pub size: usize,
}

fn is_ivshmem(name: &str) -> bool {
    name == NAME || name.strip_prefix(NAME).is_some_and(|rest| rest.starts_with('['))
}

fn read_trimmed(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.trim().to_string())
}

/// The ivshmem devices under `class_dir` as (uioN, name), lowest N first.
pub fn find(class_dir: &Path) -> Result<Vec<(String, String)>> {
    let entries = std::fs::read_dir(class_dir)
        .with_context(|| format!("cannot read {} (is uio.ko loaded and the hypervisor enabled?)", class_dir.display()))?;
    let mut found = Vec::new();
    for e in entries {
        let dev = e?.file_name().to_string_lossy().into_owned();
        let Some(n) = dev.strip_prefix("uio").and_then(|n| n.parse::<u32>().ok()) else { continue };
        let name = read_trimmed(&class_dir.join(&dev).join("name"))?;
        if is_ivshmem(&name) {
            found.push((n, dev, name));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, dev, name)| (dev, name)).collect())
}

/// The maps of `uioN`, in index order (map0, map1, ... until one is missing).
pub fn maps(class_dir: &Path, dev: &str) -> Result<Vec<MapInfo>> {
    let mut out = Vec::new();
    loop {
        let dir = class_dir.join(dev).join("maps").join(format!("map{}", out.len()));
        if !dir.exists() {
            return Ok(out);
        }
        let size_text = read_trimmed(&dir.join("size"))?;
        let size = usize::from_str_radix(size_text.trim_start_matches("0x"), 16)
            .with_context(|| format!("{}: size {size_text:?}", dir.display()))?;
        out.push(MapInfo { name: read_trimmed(&dir.join("name"))?, size });
    }
}

/// A mapping of one map; unmapped on drop.
struct Mapping {
    info: MapInfo,
    ptr: *mut u8,
}

/// An open ivshmem UIO device with all its maps mapped.
pub struct Device {
    pub path: PathBuf,
    pub name: String,
    file: File,
    maps: Vec<Mapping>,
}

impl Device {
    /// Opens `dev` (e.g. /dev/uio1), or the first ivshmem device, with
    /// every map mapped; with `writable_only`, only that map, writable.
    pub fn open(dev: Option<&Path>, writable_only: Option<&str>) -> Result<Device> {
        let class = Path::new(CLASS_DIR);
        let (base, name) = match dev {
            Some(p) => {
                let base = p.file_name().context("--dev needs a device path")?.to_string_lossy().into_owned();
                let name = read_trimmed(&class.join(&base).join("name"))?;
                if !is_ivshmem(&name) {
                    bail!("{} is {name:?}, not an ivshmem device ({NAME})", p.display());
                }
                (base, name)
            }
            None => find(class)?.into_iter().next().with_context(|| {
                format!("no {NAME} device in {CLASS_DIR}: is the hypervisor enabled with a config that gives the root an ivshmem device?")
            })?,
        };
        let path = Path::new("/dev").join(&base);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let page = rustix::param::page_size();
        let mut mapped = Vec::new();
        if let Some(want) = writable_only {
            // Only the one map, writable: a check of the driver.
            let (i, info) = maps(class, &base)?
                .into_iter()
                .enumerate()
                .find(|(_, m)| m.name == want)
                .with_context(|| format!("{}: no map named {want:?}", path.display()))?;
            // SAFETY: as below, a new shared mapping the kernel places.
            let ptr = unsafe {
                mmap(std::ptr::null_mut(), info.size, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, &file, (i * page) as u64)
            }
            .with_context(|| format!("map{i} ({want}) writable"))?;
            mapped.push(Mapping { info, ptr: ptr.cast() });
            return Ok(Device { path, name, file, maps: mapped });
        }
        for (i, info) in maps(class, &base)?.into_iter().enumerate() {
            // The hypervisor maps the state table and the other peers'
            // output sections read-only (the driver refuses writable maps).
            let prot = match info.name.as_str() {
                "state_table" | "input_sections" => ProtFlags::READ,
                _ => ProtFlags::READ | ProtFlags::WRITE,
            };
            // SAFETY: a new shared mapping of the device's map i (the UIO
            // rule: offset i * page size) at an address the kernel picks;
            // no existing memory is affected. It lives until `Mapping` drops.
            let ptr = unsafe {
                mmap(std::ptr::null_mut(), info.size, prot, MapFlags::SHARED, &file, (i * page) as u64)
            }
            .with_context(|| format!("cannot map {} map{i} ({}, {} bytes)", path.display(), info.name, info.size))?;
            mapped.push(Mapping { info, ptr: ptr.cast() });
        }
        let dev = Device { path, name, file, maps: mapped };
        for (want, size) in [("registers", 0x14), ("state_table", 4), ("input_sections", 1), ("output_section", 1)] {
            if dev.map(want).is_none_or(|m| m.info.size < size) {
                bail!("{}: no map named {want:?} of at least {size} bytes", dev.path.display());
            }
        }
        Ok(dev)
    }

    fn map(&self, name: &str) -> Option<&Mapping> {
        self.maps.iter().find(|m| m.info.name == name)
    }

    /// The size of map `name` (0 if absent).
    pub fn size(&self, name: &str) -> usize {
        self.map(name).map_or(0, |m| m.info.size)
    }

    fn reg_read(&self, off: usize) -> u32 {
        let regs = self.map("registers").map_or(std::ptr::null_mut(), |m| m.ptr);
        // SAFETY: `open` checked that the register map holds every
        // register offset used here; an aligned 32-bit volatile load is
        // one access the hypervisor emulates.
        unsafe { regs.add(off).cast::<u32>().read_volatile() }
    }

    fn reg_write(&self, off: usize, val: u32) {
        let regs = self.map("registers").map_or(std::ptr::null_mut(), |m| m.ptr);
        // SAFETY: as in `reg_read`, a single aligned 32-bit store.
        unsafe { regs.add(off).cast::<u32>().write_volatile(val) }
    }

    pub fn id(&self) -> u32 {
        self.reg_read(REG_ID)
    }

    pub fn max_peers(&self) -> u32 {
        self.reg_read(REG_MAX_PEERS)
    }

    /// Interrupts on (the driver uses one-shot mode: on again after each),
    /// through the register as Jailhouse's demo does.
    pub fn enable_interrupts(&self) {
        self.reg_write(REG_INT_CONTROL, 1);
    }

    /// Interrupts on through UIO's write() (the driver's irqcontrol).
    pub fn irqcontrol(&self, on: bool) -> Result<()> {
        use std::io::Write;
        (&self.file)
            .write_all(&u32::from(on).to_ne_bytes())
            .with_context(|| format!("write (irqcontrol) on {}", self.path.display()))
    }

    pub fn set_state(&self, state: u32) {
        self.reg_write(REG_STATE, state);
    }

    /// Rings `peer` with vector 0. Stores to the sections made before are
    /// visible to the peer when it takes the interrupt: the barrier orders
    /// them before the doorbell store, which traps to the hypervisor that
    /// raises the peer's interrupt.
    pub fn ring(&self, peer: u32) {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        self.reg_write(REG_DOORBELL, peer << 16);
    }

    /// Entry `peer` of the state table (0 outside it).
    pub fn state(&self, peer: u32) -> u32 {
        self.read_u32("state_table", peer as usize * 4).unwrap_or(0)
    }

    /// Output section size: the input sections are `max_peers` of them.
    pub fn out_size(&self) -> usize {
        self.size("output_section")
    }

    /// A u32 of map `name` at `off`, if it lies inside.
    fn read_u32(&self, name: &str, off: usize) -> Option<u32> {
        let m = self.map(name)?;
        if !off.is_multiple_of(4) || off.checked_add(4)? > m.info.size {
            return None;
        }
        // SAFETY: inside the mapping (checked above), aligned; volatile as
        // a peer may change it at any time.
        Some(unsafe { m.ptr.add(off).cast::<u32>().read_volatile() })
    }

    /// `len` bytes of `peer`'s output section from `off` (cut at its end).
    pub fn peer_bytes(&self, peer: u32, off: usize, len: usize) -> Vec<u8> {
        let out = self.out_size();
        let Some(m) = self.map("input_sections") else { return Vec::new() };
        let start = peer as usize * out + off.min(out);
        let end = (peer as usize * out + out).min(start + len).min(m.info.size);
        // SAFETY: each byte lies inside the mapping (bounded above);
        // volatile as the peer may change it at any time.
        (start..end).map(|i| unsafe { m.ptr.add(i).read_volatile() }).collect()
    }

    /// The record header at the start of `peer`'s output section. The
    /// writer stores `seq` (word 1) last, after a barrier: it is read
    /// first, and the barrier after it makes the other words at least as
    /// new (docs/ivshmem.md, what the inmate does exactly).
    pub fn peer_words(&self, peer: u32) -> [u32; 4] {
        let base = peer as usize * self.out_size();
        let w = |i: usize| self.read_u32("input_sections", base + 4 * i).unwrap_or(0);
        let seq = w(1);
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        [w(0), seq, w(2), w(3)]
    }

    /// Writes `data` at `off` of our output section (cut at its end).
    pub fn write_out(&self, off: usize, data: &[u8]) {
        let Some(m) = self.map("output_section") else { return };
        for (i, &b) in data.iter().enumerate().take(m.info.size.saturating_sub(off)) {
            // SAFETY: off + i < size (bounded by `take`); our own output
            // section is mapped writable.
            unsafe { m.ptr.add(off + i).write_volatile(b) }
        }
    }

    /// Writes a record header at the start of our output section after
    /// everything written before it, `seq` (word 1) last: a reader that
    /// sees the new `seq` sees the rest of the record.
    pub fn write_out_words(&self, words: [u32; 4]) {
        let Some(m) = self.map("output_section") else { return };
        if m.info.size < 16 {
            return;
        }
        let word = |i: usize, v: u32| {
            // SAFETY: word i < 4 lies inside the mapping (checked above),
            // aligned as the mapping is page aligned.
            unsafe { m.ptr.cast::<u32>().add(i).write_volatile(v) }
        };
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        word(0, words[0]);
        word(2, words[2]);
        word(3, words[3]);
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        word(1, words[1]);
    }

    /// Waits up to `timeout` for an interrupt; returns the event count, or
    /// None on timeout.
    pub fn wait(&self, timeout: Duration) -> Result<Option<u32>> {
        let ts = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: timeout.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
        let n = loop {
            match poll(&mut fds, Some(&ts)) {
                Err(rustix::io::Errno::INTR) => continue,
                r => break r.with_context(|| format!("poll on {}", self.path.display()))?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let mut count = [0u8; 4];
        (&self.file)
            .read_exact(&mut count)
            .with_context(|| format!("read on {}", self.path.display()))?;
        Ok(Some(u32::from_ne_bytes(count)))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        for m in &self.maps {
            // SAFETY: exactly the mapping `open` created; nothing refers to
            // it after the device is dropped.
            let _ = unsafe { munmap(m.ptr.cast(), m.info.size) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_uio(dir: &Path, dev: &str, name: &str, maps: &[(&str, &str)]) {
        let d = dir.join(dev);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("name"), format!("{name}\n")).unwrap();
        for (i, (n, size)) in maps.iter().enumerate() {
            let m = d.join("maps").join(format!("map{i}"));
            std::fs::create_dir_all(&m).unwrap();
            std::fs::write(m.join("name"), format!("{n}\n")).unwrap();
            std::fs::write(m.join("size"), format!("{size}\n")).unwrap();
        }
    }

    #[test]
    fn finds_ivshmem_devices_in_order_and_reads_their_maps() {
        let dir = std::env::temp_dir().join(format!("syshyper-uio-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        fake_uio(&dir, "uio10", "uio_ivshmem[0001:00:01.0]", &[("registers", "0x0000000000001000")]);
        fake_uio(&dir, "uio2", "uio_ivshmem[0001:00:00.0]", &[
            ("registers", "0x0000000000001000"),
            ("state_table", "0x0000000000001000"),
            ("input_sections", "0x0000000000006000"),
            ("output_section", "0x0000000000002000"),
        ]);
        fake_uio(&dir, "uio0", "other_device", &[]);
        fake_uio(&dir, "uio3", "uio_ivshmemx", &[]);
        let found = find(&dir).unwrap();
        assert_eq!(found, vec![
            ("uio2".to_string(), "uio_ivshmem[0001:00:00.0]".to_string()),
            ("uio10".to_string(), "uio_ivshmem[0001:00:01.0]".to_string()),
        ]);
        let m = maps(&dir, "uio2").unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[2], MapInfo { name: "input_sections".into(), size: 0x6000 });
        std::fs::write(dir.join("uio2/maps/map1/size"), "zz\n").unwrap();
        assert!(maps(&dir, "uio2").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(find(&dir).is_err());
    }

    #[test]
    fn names_are_matched_exactly() {
        assert!(is_ivshmem("uio_ivshmem"));
        assert!(is_ivshmem("uio_ivshmem[0000:00:0f.0]"));
        assert!(!is_ivshmem("uio_ivshmem2"));
        assert!(!is_ivshmem("uio_pci_generic"));
    }
}
