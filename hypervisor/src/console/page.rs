//! The console page: a ring the driver reads (`jailhouse console`).
//! Layout fixed by Jailhouse: busy flag, free-running tail, 2048 bytes.

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

const SIZE: usize = 2048;

/// The ring, placed in its own page of the image (header.console_page).
#[repr(C, align(4096))]
pub struct ConsolePage {
    busy: AtomicU32,
    tail: AtomicU32,
    content: [AtomicU8; SIZE],
}

impl ConsolePage {
    const fn new() -> Self {
        Self { busy: AtomicU32::new(0), tail: AtomicU32::new(0), content: [const { AtomicU8::new(0) }; SIZE] }
    }

    /// Appends one byte. Writers are serialised by the console lock.
    pub fn push(&self, b: u8) {
        self.busy.store(1, Ordering::Release);
        let tail = self.tail.load(Ordering::Relaxed);
        if let Some(slot) = self.content.get(tail as usize % SIZE) {
            slot.store(b, Ordering::Relaxed);
        }
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        self.busy.store(0, Ordering::Release);
    }

    /// Bytes written so far (free-running).
    pub fn tail(&self) -> u32 {
        self.tail.load(Ordering::Acquire)
    }

    /// Byte at free-running position `pos`.
    pub fn at(&self, pos: u32) -> u8 {
        self.content.get(pos as usize % SIZE).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// The hypervisor's console page; the linker script points the header here.
#[export_name = "__console_page"]
pub static CONSOLE_PAGE: ConsolePage = ConsolePage::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_wraps_and_tail_runs_freely() {
        let page = ConsolePage::new();
        for i in 0..(SIZE as u32 + 10) {
            page.push((i % 251) as u8);
        }
        assert_eq!(page.tail(), SIZE as u32 + 10);
        assert_eq!(page.at(SIZE as u32 + 9), ((SIZE as u32 + 9) % 251) as u8);
        assert_eq!(core::mem::size_of::<ConsolePage>(), 4096);
        assert_eq!(core::mem::offset_of!(ConsolePage, content), 8);
    }
}
