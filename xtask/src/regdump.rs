//! Where every vCPU is when a system test times out: each QEMU run of the
//! harness gets a QMP socket; on a timeout the harness stops the machine,
//! asks for `info registers -a` and prints, per CPU, its exception level,
//! PC and LR named by symbol (EL2 against the hypervisor ELF, EL1 against
//! the guest kernel's System.map when the run boots one), then QEMU's raw
//! dump. A hang then shows whether a CPU never entered the hypervisor
//! (EL1, e.g. spinning in Linux), waits in a rendezvous (EL2, the loop's
//! function) or sits in a vector's `b .`.
//!
//! Debian's System.map is a stub, so EL1 PCs stay raw unless
//! `SYSHYPER_KALLSYMS` names a copy of the same kernel's /proc/kallsyms
//! (e.g. `cat /proc/kallsyms` in `cargo xtask run`'s shell; the tests
//! boot with `nokaslr`, so the addresses are the same in every boot).

use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// QEMU arguments for a QMP server on `sock` that never blocks the start.
pub fn monitor_args(sock: &Path) -> [String; 2] {
    [
        "-qmp".to_string(),
        format!("unix:{},server=on,wait=off", sock.display()),
    ]
}

/// A socket path for one run. Unix socket paths are limited to 108 bytes,
/// so it lives in the temporary folder, not the (possibly deep) worktree.
pub fn socket_path(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("syshyper-qmp-{}-{test}.sock", std::process::id()))
}

/// One QMP session: the greeting, capabilities, then commands.
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn connect(sock: &Path) -> Result<Qmp> {
        let s = UnixStream::connect(sock)
            .with_context(|| format!("cannot connect to QMP at {}", sock.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        let mut q = Qmp {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        };
        let greeting = q.line()?;
        if !greeting.contains("\"QMP\"") {
            bail!("not a QMP greeting: {greeting}");
        }
        q.execute(r#"{"execute":"qmp_capabilities"}"#)?;
        Ok(q)
    }

    fn line(&mut self) -> Result<String> {
        let mut l = String::new();
        if self.reader.read_line(&mut l)? == 0 {
            bail!("QMP closed the connection");
        }
        Ok(l)
    }

    /// Sends one command and returns its `"return"` line (events skipped).
    fn execute(&mut self, json: &str) -> Result<String> {
        self.writer.write_all(json.as_bytes())?;
        self.writer.write_all(b"\n")?;
        loop {
            let l = self.line()?;
            if l.contains("\"return\"") {
                return Ok(l);
            }
            if l.contains("\"error\"") {
                bail!("QMP error: {}", l.trim());
            }
        }
    }
}

/// Stops the machine (so the registers stay put) and returns QEMU's
/// `info registers -a`.
pub fn query_registers(sock: &Path) -> Result<String> {
    let mut q = Qmp::connect(sock)?;
    q.execute(r#"{"execute":"stop"}"#)?;
    let line = q.execute(
        r#"{"execute":"human-monitor-command","arguments":{"command-line":"info registers -a"}}"#,
    )?;
    json_string_after(&line, "\"return\"").ok_or_else(|| anyhow!("no string in {}", line.trim()))
}

/// Decodes the JSON string that follows `key` and a colon in `line`.
fn json_string_after(line: &str, key: &str) -> Option<String> {
    let rest = &line[line.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?).unwrap_or('?'));
                }
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
}

/// Rust's legacy mangling after an Itanium demangler (what `llvm-nm -C`
/// leaves): `$u7b$` escapes decoded, `..` as `::`, the hash dropped.
fn tidy_rust_name(name: &str) -> String {
    let mut s = name.to_string();
    for (from, to) in [
        ("$u7b$", "{"), ("$u7d$", "}"), ("$u20$", " "), ("$u27$", "'"), ("$u5b$", "["), ("$u5d$", "]"),
        ("$LT$", "<"), ("$GT$", ">"), ("$RF$", "&"), ("$BP$", "*"), ("$C$", ","), ("$SP$", "@"), ("..", "::"),
    ] {
        s = s.replace(from, to);
    }
    if let Some(i) = s.rfind("::h") {
        let hash = &s[i + 3..];
        if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) {
            s.truncate(i);
        }
    }
    s.replace("::_{{closure}}", "::{{closure}}").replace("_<", "<")
}

/// One vCPU of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuRegs {
    pub cpu: u32,
    pub pc: u64,
    /// X30, the return address of the innermost non-leaf call.
    pub lr: u64,
    pub sp: u64,
    /// Exception level and stack selector as QEMU prints them ("EL2h").
    pub el: String,
}

impl CpuRegs {
    fn level(&self) -> Option<u8> {
        self.el.strip_prefix("EL")?.chars().next()?.to_digit(10).map(|d| d as u8)
    }
}

fn hex_after(text: &str, key: &str) -> Option<u64> {
    let start = text.find(key)? + key.len();
    let digits: String = text[start..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u64::from_str_radix(&digits, 16).ok()
}

/// Splits `info registers -a` (AArch64) into its CPUs; a dump without
/// `CPU#n` headers (a single CPU) counts as CPU 0.
pub fn parse_dump(dump: &str) -> Vec<CpuRegs> {
    let mut blocks: Vec<(u32, String)> = Vec::new();
    for line in dump.lines() {
        if let Some(n) = line.trim().strip_prefix("CPU#").and_then(|n| n.parse().ok()) {
            blocks.push((n, String::new()));
        } else {
            if blocks.is_empty() {
                blocks.push((0, String::new()));
            }
            if let Some(b) = blocks.last_mut() {
                b.1.push_str(line);
                b.1.push('\n');
            }
        }
    }
    blocks
        .into_iter()
        .filter_map(|(cpu, text)| {
            let el = text
                .split_whitespace()
                .find(|w| w.starts_with("EL") && w.len() == 4)?
                .to_string();
            Some(CpuRegs {
                cpu,
                pc: hex_after(&text, "PC=")?,
                lr: hex_after(&text, "X30=")?,
                sp: hex_after(&text, " SP=").unwrap_or(0),
                el,
            })
        })
        .collect()
}

/// Symbols sorted by address, from `nm -n` output or a System.map (both
/// `ADDRESS TYPE NAME` per line).
#[derive(Debug, Default)]
pub struct SymbolTable {
    syms: Vec<(u64, String)>,
    /// The hypervisor image's link address (`__image_start`), if listed.
    image_start: Option<u64>,
}

/// The hypervisor image is loaded 2 MiB aligned and is smaller than that
/// (boot.rs `el2_common` checks the alignment), so the low 21 bits of a
/// physical PC inside it are its offset in the image.
const IMAGE_ALIGN: u64 = 0x20_0000;

impl SymbolTable {
    pub fn from_nm_text(text: &str) -> SymbolTable {
        let image_start = text.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[2] == "__image_start").then(|| u64::from_str_radix(f[0], 16).ok()).flatten()
        });
        let mut syms: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let addr = u64::from_str_radix(f.next()?, 16).ok()?;
                let kind = f.next()?;
                // Code symbols only: data and absolute symbols would name
                // the wrong thing for a PC.
                if !matches!(kind, "T" | "t" | "W" | "w") {
                    return None;
                }
                let name: Vec<&str> = f.collect();
                (!name.is_empty()).then(|| (addr, tidy_rust_name(&name.join(" "))))
            })
            .collect();
        syms.sort_by_key(|s| s.0);
        SymbolTable { syms, image_start }
    }

    /// Like [`SymbolTable::lookup`]; an address that names nothing is
    /// tried as a physical address in the image (EL2 with the MMU off:
    /// the entry code, the bootstrap vectors' `b .`), marked `[phys]`.
    pub fn lookup_el2(&self, addr: u64) -> Option<String> {
        self.lookup(addr).or_else(|| {
            let va = self.image_start? + (addr & (IMAGE_ALIGN - 1));
            self.lookup(va).map(|n| format!("{n} [phys]"))
        })
    }

    /// Symbols of an ELF through `llvm-nm` (demangled), or `nm`.
    pub fn from_elf(elf: &Path) -> Result<SymbolTable> {
        for tool in ["llvm-nm", "nm"] {
            if let Ok(out) = Command::new(tool).args(["-n", "-C", "--defined-only"]).arg(elf).output() {
                if out.status.success() {
                    return Ok(Self::from_nm_text(&String::from_utf8_lossy(&out.stdout)));
                }
            }
        }
        bail!("neither llvm-nm nor nm can read {}", elf.display())
    }

    pub fn from_system_map(map: &Path) -> Result<SymbolTable> {
        let text = std::fs::read_to_string(map)
            .with_context(|| format!("cannot read {}", map.display()))?;
        Ok(Self::from_nm_text(&text))
    }

    /// `name+0xoff` of the last symbol at or below `addr`, if `addr` lies
    /// within `max_span` bytes of it (past the last symbol nothing is known).
    pub fn lookup(&self, addr: u64) -> Option<String> {
        const MAX_SPAN: u64 = 0x10_0000;
        let i = self.syms.partition_point(|s| s.0 <= addr).checked_sub(1)?;
        let (start, name) = &self.syms[i];
        let off = addr - start;
        if off >= MAX_SPAN || (i + 1 == self.syms.len() && off > 0x1000) {
            return None;
        }
        Some(format!("{name}+{off:#x}"))
    }
}

/// Symbols for each exception level that has them.
#[derive(Default)]
pub struct Symbols {
    pub el2: Option<SymbolTable>,
    pub el2_elf: Option<PathBuf>,
    pub el1: Option<SymbolTable>,
}

impl Symbols {
    fn table(&self, regs: &CpuRegs) -> Option<&SymbolTable> {
        match regs.level() {
            Some(2) => self.el2.as_ref(),
            Some(1) => self.el1.as_ref(),
            _ => None,
        }
    }

    fn name(&self, regs: &CpuRegs, addr: u64) -> String {
        let found = match (regs.level(), self.table(regs)) {
            (Some(2), Some(t)) => t.lookup_el2(addr),
            (_, Some(t)) => t.lookup(addr),
            _ => None,
        };
        found.unwrap_or_else(|| "?".to_string())
    }
}

/// File and line (inlined frames included) of an EL2 address, through
/// `llvm-addr2line`; empty when the tool or the debug info is missing.
fn source_lines(elf: &Path, addr: u64) -> Vec<String> {
    let Ok(out) = Command::new("llvm-addr2line")
        .args(["-f", "-i", "-C", "-e"])
        .arg(elf)
        .arg(format!("{addr:#x}"))
        .output()
    else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .filter(|c| c.len() == 2 && !c[1].starts_with("??"))
        .map(|c| format!("{} at {}", tidy_rust_name(c[0]), c[1]))
        .collect()
}

/// The per-CPU summary: one line per CPU, plus source lines of EL2 PCs.
pub fn summarize(cpus: &[CpuRegs], syms: &Symbols) -> String {
    let mut out = String::new();
    for r in cpus {
        out.push_str(&format!(
            "CPU#{} {} PC={:#018x} {}  LR={:#018x} {}  SP={:#x}\n",
            r.cpu,
            r.el,
            r.pc,
            syms.name(r, r.pc),
            r.lr,
            syms.name(r, r.lr),
            r.sp
        ));
        if r.level() == Some(2) {
            if let Some(elf) = &syms.el2_elf {
                for l in source_lines(elf, r.pc) {
                    out.push_str(&format!("    {l}\n"));
                }
            }
        }
    }
    out
}

/// The guest kernel's System.map next to the `-kernel` image of `args`
/// (`boot/vmlinuz-V` → `boot/System.map-V`), if there is one. The Linux
/// tests boot with `nokaslr`, so its addresses are the running kernel's.
pub fn system_map_for(args: &[String]) -> Option<PathBuf> {
    let i = args.iter().position(|a| a == "-kernel")?;
    let kernel = Path::new(args.get(i + 1)?);
    let name = kernel.file_name()?.to_str()?;
    let map = kernel.with_file_name(name.replacen("vmlinuz-", "System.map-", 1));
    (map != kernel && map.is_file()).then_some(map)
}

/// Everything the harness appends after a timeout; never fails (a broken
/// dump must not hide the test's own error), errors become text.
pub fn report(sock: &Path, hv_elf: &Path, args: &[String]) -> String {
    let dump = match query_registers(sock) {
        Ok(d) => d,
        Err(e) => return format!("---- no register dump: {e:#} ----\n"),
    };
    let mut syms = Symbols::default();
    let mut notes = String::new();
    match SymbolTable::from_elf(hv_elf) {
        Ok(t) => {
            syms.el2 = Some(t);
            syms.el2_elf = Some(hv_elf.to_path_buf());
        }
        Err(e) => notes.push_str(&format!("(EL2 PCs unnamed: {e:#})\n")),
    }
    // Debian's System.map is a stub; a saved /proc/kallsyms of the same
    // kernel (the tests boot it with nokaslr, so addresses repeat) names
    // EL1 PCs instead.
    let kallsyms = std::env::var_os("SYSHYPER_KALLSYMS").map(PathBuf::from);
    if let Some(map) = kallsyms.filter(|_| system_map_for(args).is_some()) {
        match SymbolTable::from_system_map(&map) {
            Ok(t) => syms.el1 = Some(t),
            Err(e) => notes.push_str(&format!("(EL1 PCs unnamed: {e:#})\n")),
        }
    } else if let Some(map) = system_map_for(args) {
        match SymbolTable::from_system_map(&map) {
            Ok(t) if t.syms.is_empty() => notes.push_str(&format!(
                "(EL1 PCs unnamed: {} has no code symbols (Debian ships a stub); the tests boot with nokaslr, so a /proc/kallsyms saved from the same kernel names them: SYSHYPER_KALLSYMS=FILE)\n",
                map.display()
            )),
            Ok(t) => syms.el1 = Some(t),
            Err(e) => notes.push_str(&format!("(EL1 PCs unnamed: {e:#})\n")),
        }
    }
    format!(
        "---- vCPUs at the timeout (QEMU stopped; EL2 named from {}) ----\n{notes}{}---- info registers -a ----\n{}\n---- end of register dump ----\n",
        hv_elf.display(),
        summarize(&parse_dump(&dump), &syms),
        dump.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of QEMU 7.2's AArch64 `info registers -a` (two CPUs, cut).
    const DUMP: &str = "\nCPU#0\n PC=0000ffffc0001234 X00=0000000000000000 X01=0000000000000001\n\
X02=0000000000000002 X03=0000000000000003 X04=0000000000000004\n\
X27=0000000000000000 X28=0000000000000000 X29=0000000000000000\n\
X30=0000ffffc0000ff0  SP=0000ffffc0100000\n\
PSTATE=600003c9 -ZC- EL2h     FPCR=00000000 FPSR=00000000\n\
\nCPU#1\n PC=ffff800008012345 X00=0000000000000000 X01=0000000000000001\n\
X30=ffff800008000010  SP=ffff80000a00ff00\n\
PSTATE=20000005 --C- EL1h     FPCR=00000000 FPSR=00000000\n";

    const NM: &str = "0000ffffc0000000 T __entry\n\
0000ffffc0000f00 t syshyper_hv::init::rust_entry\n\
0000ffffc0001200 T syshyper_hv::init::late_launch_finish\n\
0000ffffc0010000 D some_data\n\
0000ffffc0001300 T last\n";

    #[test]
    fn parses_every_cpu() {
        let cpus = parse_dump(DUMP);
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[0],
            CpuRegs { cpu: 0, pc: 0xffff_c000_1234, lr: 0xffff_c000_0ff0, sp: 0xffff_c010_0000, el: "EL2h".into() }
        );
        assert_eq!((cpus[1].cpu, cpus[1].pc, cpus[1].el.as_str()), (1, 0xffff_8000_0801_2345, "EL1h"));
        assert_eq!(cpus[1].level(), Some(1));
    }

    #[test]
    fn a_dump_without_headers_is_cpu_0() {
        let one = DUMP.split("\nCPU#1").next().unwrap().replace("CPU#0\n", "");
        assert_eq!(parse_dump(&one).len(), 1);
        assert!(parse_dump("garbage\nno registers here\n").is_empty());
    }

    #[test]
    fn looks_up_code_symbols_only() {
        let t = SymbolTable::from_nm_text(NM);
        assert_eq!(t.lookup(0xffff_c000_1234).as_deref(), Some("syshyper_hv::init::late_launch_finish+0x34"));
        assert_eq!(t.lookup(0xffff_c000_0f00).as_deref(), Some("syshyper_hv::init::rust_entry+0x0"));
        // The data symbol does not end late_launch_finish... but `last` does.
        assert_eq!(t.lookup(0xffff_c000_1300).as_deref(), Some("last+0x0"));
        assert_eq!(t.lookup(0x1000), None, "below every symbol");
        assert_eq!(t.lookup(0xffff_c001_0000), None, "far past the last symbol");
    }

    #[test]
    fn physical_el2_pcs_are_image_offsets() {
        let t = SymbolTable::from_nm_text(&format!("0000ffffc0000000 R __image_start\n{NM}"));
        // 0x7fc0_0f10 is offset 0xf10 in an image loaded at 0x7fc0_0000.
        assert_eq!(t.lookup_el2(0x7fc0_0f10).as_deref(), Some("syshyper_hv::init::rust_entry+0x10 [phys]"));
        assert_eq!(t.lookup_el2(0xffff_c000_1204).as_deref(), Some("syshyper_hv::init::late_launch_finish+0x4"));
        assert_eq!(SymbolTable::from_nm_text(NM).lookup_el2(0x7fc0_0f10), None, "no __image_start, no guess");
    }

    #[test]
    fn summary_names_pcs_by_exception_level() {
        let syms = Symbols {
            el2: Some(SymbolTable::from_nm_text(NM)),
            el2_elf: None,
            el1: Some(SymbolTable::from_nm_text(
                "ffff800008010000 T csd_lock_wait\nffff800008000000 T _text\nffff800008020000 T later\n",
            )),
        };
        let s = summarize(&parse_dump(DUMP), &syms);
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("CPU#0 EL2h"), "{s}");
        assert!(lines[0].contains("late_launch_finish+0x34"), "{s}");
        assert!(lines[0].contains("rust_entry+0xf0"), "{s}");
        assert!(lines[1].contains("csd_lock_wait+0x2345"), "{s}");
        assert!(lines[1].contains("_text+0x10"), "{s}");
        // Without tables the PCs stay raw.
        let bare = summarize(&parse_dump(DUMP), &Symbols::default());
        assert!(bare.contains("PC=0x0000ffffc0001234 ?"), "{bare}");
    }

    #[test]
    fn tidies_rust_names() {
        assert_eq!(
            tidy_rust_name("syshyper_hv::cell::manage::destroy::_$u7b$$u7b$closure$u7d$$u7d$::h01dd27f70120c0ff"),
            "syshyper_hv::cell::manage::destroy::{{closure}}"
        );
        assert_eq!(
            tidy_rust_name("_$LT$syshyper_hv..memmap..PoolMem$u20$as$u20$x..T$GT$::invalidate::h775ac4dc799c546d"),
            "<syshyper_hv::memmap::PoolMem as x::T>::invalidate"
        );
        assert_eq!(tidy_rust_name("trap_lower_irq"), "trap_lower_irq");
    }

    #[test]
    fn decodes_the_qmp_return_string() {
        let line = r#"{"return": "CPU#0\r\n PC=1 \"q\" \\ \u0041"}"#;
        assert_eq!(json_string_after(line, "\"return\"").as_deref(), Some("CPU#0\r\n PC=1 \"q\" \\ A"));
        assert_eq!(json_string_after(r#"{"return": {}}"#, "\"return\""), None);
    }

    /// The whole path against a real QEMU: a paused two-CPU machine with
    /// EL2 (its CPUs reset into EL2, as no EL3 firmware runs) answers
    /// through QMP with both CPUs at EL2.
    #[test]
    fn dumps_a_live_qemu() {
        let sock = socket_path("unit-test");
        let _ = std::fs::remove_file(&sock);
        let mut args: Vec<String> = ["-M", "virt,gic-version=3,virtualization=on", "-cpu", "cortex-a57", "-smp", "2",
            "-m", "64M", "-nographic", "-nic", "none", "-S"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(monitor_args(&sock));
        let log = std::env::temp_dir().join(format!("xtask-regdump-{}.log", std::process::id()));
        let mut q = crate::runner::spawn(
            crate::qemu::command(&args),
            &crate::runner::Options { log, echo: false, stdin: false },
        )
        .unwrap();
        let start = std::time::Instant::now();
        while !sock.exists() && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let dump = query_registers(&sock);
        let _ = q.finish(Some(std::time::Instant::now()));
        let _ = std::fs::remove_file(&sock);
        let dump = dump.unwrap();
        let cpus = parse_dump(&dump);
        assert_eq!(cpus.iter().map(|c| c.cpu).collect::<Vec<_>>(), vec![0, 1], "{dump}");
        assert!(cpus.iter().all(|c| c.el == "EL2h"), "{dump}");
        let text = summarize(&cpus, &Symbols::default());
        assert!(text.contains("CPU#1 EL2h PC="), "{text}");
    }

    #[test]
    fn finds_the_system_map_beside_the_kernel() {
        let dir = std::env::temp_dir().join(format!("xtask-regdump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kernel = dir.join("vmlinuz-6.1.0-x-arm64");
        std::fs::write(&kernel, b"k").unwrap();
        let args = |k: &Path| vec!["-M".to_string(), "virt".into(), "-kernel".into(), k.display().to_string()];
        assert_eq!(system_map_for(&args(&kernel)), None, "no map yet");
        let map = dir.join("System.map-6.1.0-x-arm64");
        std::fs::write(&map, b"").unwrap();
        assert_eq!(system_map_for(&args(&kernel)), Some(map));
        assert_eq!(system_map_for(&["-M".to_string()]), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
