//! The registers in BAR0 (docs/ivshmem.md): ID, maximum peers, interrupt
//! control, doorbell, state. Aligned 32-bit accesses only.

use super::link::{write_entry, Links, INT_ENABLE};
use super::Effects;

pub const REG_ID: u64 = 0x00;
pub const REG_MAX_PEERS: u64 = 0x04;
pub const REG_INT_CTRL: u64 = 0x08;
pub const REG_DOORBELL: u64 = 0x0c;
pub const REG_STATE: u64 = 0x10;

/// Access to offset `off` of endpoint `i`'s BAR0: the value read, or
/// `None` for an access of another width or alignment (the cell fails,
/// as for any access the hardware would not answer).
pub fn access(links: &mut Links, i: usize, off: u64, size: u8, write: Option<u64>, fx: &mut impl Effects) -> Option<u64> {
    if size != 4 || !off.is_multiple_of(4) {
        return None;
    }
    let ep = links.eps.get_mut(i)?;
    let Some(v) = write else {
        return Some(match off {
            REG_ID => u64::from(ep.dev.id),
            REG_MAX_PEERS => u64::from(ep.dev.peers),
            REG_INT_CTRL => u64::from(ep.int_ctrl),
            REG_STATE => u64::from(ep.state),
            _ => 0,
        });
    };
    let v = v as u32;
    let (domain, bdf, id) = (ep.dev.domain, ep.dev.bdf, ep.dev.id);
    match off {
        REG_INT_CTRL => ep.int_ctrl = v & INT_ENABLE,
        // Vector numbers other than 0 do nothing (INTx has one).
        REG_DOORBELL if v & 0xffff == 0 => links.ring(domain, bdf, v >> 16, fx),
        REG_STATE => {
            let changed = ep.state != v;
            ep.state = v;
            let dev = ep.dev;
            write_entry(fx, &dev, v);
            if changed {
                links.notify_others(domain, bdf, id, fx);
            }
        }
        _ => {}
    }
    Some(0)
}
