//! Which console a program prints on, decided the way Jailhouse's inmate
//! library decides it: the command line (`con-type=`, `con-base=`,
//! `con-virtual`) overrides the comm region's console field, which the
//! hypervisor copies from the cell config. So the config, not the code,
//! names the UART.
//!
//! Without a comm region (the root programs, native runs) the default is
//! QEMU virt's PL011, again overridable from the command line.
use crate::cmdline::Cmdline;
use crate::comm::{CommConsole, FLAG_DBG_PUTC_ACTIVE, FLAG_DBG_PUTC_PERMITTED};

/// Console types and flags of the `.cell` format (Jailhouse's console.h).
pub const CON_TYPE_8250: u16 = 2;
pub const CON_TYPE_PL011: u16 = 3;
pub const CON_TYPE_XUARTPS: u16 = 4;
pub const CON_ACCESS_MMIO: u16 = 0x1;
pub const CON_REGDIST_4: u16 = 0x2;

/// QEMU virt's PL011, the console when there is no comm region.
pub const QEMU_VIRT_PL011: usize = 0x0900_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartKind {
    Pl011,
    /// 16550-compatible; registers `regdist` bytes apart, accessed with
    /// that width (1: 8-bit, 4: 32-bit).
    Ns8250,
    /// Xilinx/Cadence UART of ZynqMP (32-bit registers).
    Xuartps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uart {
    pub kind: UartKind,
    pub base: usize,
    pub regdist: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub uart: Option<Uart>,
    /// Also print through DEBUG_CONSOLE_PUTC.
    pub virtual_console: bool,
}

/// The comm region's view, when the program runs in a cell.
#[derive(Debug, Clone, Copy)]
pub struct CellView {
    pub console: CommConsole,
    pub comm_flags: u32,
}

fn kind_by_name(name: &str) -> Option<Option<UartKind>> {
    if name.eq_ignore_ascii_case("pl011") {
        Some(Some(UartKind::Pl011))
    } else if name.eq_ignore_ascii_case("8250") {
        Some(Some(UartKind::Ns8250))
    } else if name.eq_ignore_ascii_case("xuartps") {
        Some(Some(UartKind::Xuartps))
    } else if name.eq_ignore_ascii_case("none") {
        Some(None)
    } else {
        None
    }
}

fn kind_by_type(t: u16) -> Option<UartKind> {
    match t {
        CON_TYPE_PL011 => Some(UartKind::Pl011),
        CON_TYPE_8250 => Some(UartKind::Ns8250),
        CON_TYPE_XUARTPS => Some(UartKind::Xuartps),
        _ => None,
    }
}

/// Decides the console. A type named on the command line but unknown here
/// gives no UART, like a config type this library has no driver for.
pub fn choose(cell: Option<CellView>, cmdline: &Cmdline<'_>) -> Choice {
    let (kind, address, flags, virtual_default) = match cell {
        Some(v) => {
            let permitted = v.comm_flags & FLAG_DBG_PUTC_PERMITTED != 0;
            let active = v.comm_flags & FLAG_DBG_PUTC_ACTIVE != 0;
            // PIO does not exist on arm64: a console without the MMIO access
            // flag cannot be reached, so it is no console.
            let kind = if v.console.flags & CON_ACCESS_MMIO != 0 {
                kind_by_type(v.console.console_type)
            } else {
                None
            };
            let virt = permitted && cmdline.bool("con-virtual", active);
            (kind, v.console.address as usize, v.console.flags, virt)
        }
        None => (
            Some(UartKind::Pl011),
            QEMU_VIRT_PL011,
            CON_ACCESS_MMIO | CON_REGDIST_4,
            false,
        ),
    };
    let kind = match cmdline.str("con-type") {
        Some(name) => kind_by_name(name).flatten(),
        None => kind,
    };
    let uart = kind.map(|kind| Uart {
        kind,
        base: cmdline.int("con-base", address as i64) as usize,
        regdist: if flags & CON_REGDIST_4 != 0 { 4 } else { 1 },
    });
    Choice {
        uart: uart.filter(|u| u.base != 0),
        virtual_console: virtual_default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(t: u16, address: u64, flags: u16, comm_flags: u32) -> Option<CellView> {
        Some(CellView {
            console: CommConsole {
                address,
                console_type: t,
                flags,
                ..CommConsole::default()
            },
            comm_flags,
        })
    }

    const NONE: Cmdline<'static> = Cmdline::empty();

    #[test]
    fn the_cell_config_names_the_uart() {
        let c = choose(cell(3, 0x0900_0000, 3, 1), &NONE);
        assert_eq!(
            c.uart,
            Some(Uart { kind: UartKind::Pl011, base: 0x0900_0000, regdist: 4 })
        );
        assert!(!c.virtual_console, "permitted but not active");
        // ZynqMP (Jailhouse's ZCU102 cell configs): the Cadence UART 1.
        let c = choose(cell(4, 0xff01_0000, 3, 0), &NONE);
        assert_eq!(
            c.uart,
            Some(Uart { kind: UartKind::Xuartps, base: 0xff01_0000, regdist: 4 })
        );
        let c = choose(cell(2, 0x1c02_8000, 1, 0), &NONE);
        assert_eq!(
            c.uart,
            Some(Uart { kind: UartKind::Ns8250, base: 0x1c02_8000, regdist: 1 })
        );
    }

    #[test]
    fn a_cell_without_console_prints_nowhere() {
        let c = choose(cell(0, 0, 0, 0), &NONE);
        assert_eq!(c, Choice { uart: None, virtual_console: false });
        // PIO access (no MMIO flag) is unreachable on arm64.
        assert_eq!(choose(cell(3, 0x0900_0000, 2, 0), &NONE).uart, None);
    }

    #[test]
    fn the_command_line_overrides_the_config() {
        let line = Cmdline::new(b"con-type=PL011 con-base=0x9040000");
        let c = choose(cell(0, 0, 0, 0), &line);
        assert_eq!(c.uart.map(|u| (u.kind, u.base)), Some((UartKind::Pl011, 0x904_0000)));
        let off = Cmdline::new(b"con-type=none");
        assert_eq!(choose(cell(3, 0x0900_0000, 3, 0), &off).uart, None);
        let unknown = Cmdline::new(b"con-type=imx");
        assert_eq!(choose(cell(3, 0x0900_0000, 3, 0), &unknown).uart, None);
        let cadence = Cmdline::new(b"con-type=xuartps con-base=0xff010000");
        assert_eq!(
            choose(cell(3, 0x0900_0000, 3, 0), &cadence).uart.map(|u| (u.kind, u.base)),
            Some((UartKind::Xuartps, 0xff01_0000))
        );
    }

    #[test]
    fn virtual_console_needs_permission() {
        assert!(choose(cell(0, 0, 0, 3), &NONE).virtual_console, "active");
        let on = Cmdline::new(b"con-virtual");
        assert!(choose(cell(0, 0, 0, 1), &on).virtual_console);
        assert!(!choose(cell(0, 0, 0, 0), &on).virtual_console, "not permitted");
        let off = Cmdline::new(b"con-virtual=0");
        assert!(!choose(cell(0, 0, 0, 3), &off).virtual_console);
    }

    #[test]
    fn without_comm_region_qemu_virt_pl011() {
        let c = choose(None, &NONE);
        assert_eq!(
            c.uart,
            Some(Uart { kind: UartKind::Pl011, base: QEMU_VIRT_PL011, regdist: 4 })
        );
        assert!(!choose(None, &Cmdline::new(b"con-virtual")).virtual_console);
    }
}
