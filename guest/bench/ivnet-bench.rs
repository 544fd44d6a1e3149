//! ivshmem-net measurements between the root Linux and a Linux cell
//! (docs/ivshmem-net.md): one side runs `ivnet-bench serve`, the other
//! `ivnet-bench client ADDR ROUNDS BYTES`. The client prints, in counter
//! ticks (instructions under QEMU's -icount, counting every CPU of the
//! machine, both Linuxes included):
//!
//! - `BENCH ivnet_rtt n=.. min=.. max=.. sum=..`: UDP round trips of a
//!   64-byte datagram (to the server's echo and back);
//! - `BENCH ivnet_stream value=..`: BYTES bytes over TCP until the server
//!   confirmed it received them all;
//! - `BENCH ivnet_stream_per_mib value=..`: the same per MiB.
//!
//! Plain std, one file, no crates: built with rustc like root-workload.rs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

const UDP_PORT: u16 = 7101;
const TCP_PORT: u16 = 7102;

fn ticks() -> u64 {
    let v: u64;
    // SAFETY: reads CNTVCT_EL0, which Linux lets user space read
    // (CNTKCTL_EL1.EL0VCTEN); `isb` only orders it, no memory is touched.
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// UDP echo in a thread, TCP sink in this one: each connection's byte
/// count goes back as 8 bytes (little endian) once the sender shut down.
fn serve() -> std::io::Result<()> {
    let udp = UdpSocket::bind(("0.0.0.0", UDP_PORT))?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(&buf[..n], from);
        }
    });
    let tcp = TcpListener::bind(("0.0.0.0", TCP_PORT))?;
    println!("ivnet-bench: serving");
    for conn in tcp.incoming() {
        let mut s = conn?;
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => break,
                n => total += n as u64,
            }
        }
        s.write_all(&total.to_le_bytes())?;
    }
    Ok(())
}

fn client(addr: &str, rounds: u64, bytes: u64) -> Result<(), String> {
    fn e(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |err| format!("{what}: {err}")
    }
    let udp = UdpSocket::bind("0.0.0.0:0").map_err(e("udp bind"))?;
    udp.connect((addr, UDP_PORT)).map_err(e("udp connect"))?;
    let mut buf = [0u8; 64];
    // Until the server answers (the peer may still be starting), then
    // rounds that count.
    udp.set_read_timeout(Some(Duration::from_secs(1))).map_err(e("udp timeout"))?;
    let up = (0..120).any(|_| udp.send(b"hello").is_ok() && udp.recv(&mut buf).is_ok());
    if !up {
        return Err("no answer from the server in 120 s".into());
    }
    udp.set_read_timeout(Some(Duration::from_secs(5))).map_err(e("udp timeout"))?;
    let (mut min, mut max, mut sum) = (u64::MAX, 0u64, 0u64);
    for i in 0..=rounds {
        let msg = [(i & 0xff) as u8; 64];
        let t0 = ticks();
        udp.send(&msg).map_err(e("udp send"))?;
        // A late answer to a start-up hello is skipped.
        while udp.recv(&mut buf).map_err(e("udp recv"))? != msg.len() {}
        let dt = ticks() - t0;
        if buf != msg {
            return Err(format!("round {i}: echo differs"));
        }
        // Round 0 warms up (caches, the stack's paths) and does not count.
        if i > 0 {
            min = min.min(dt);
            max = max.max(dt);
            sum += dt;
        }
    }
    println!("BENCH ivnet_rtt n={rounds} min={min} max={max} sum={sum}");

    let chunk = vec![0x5au8; 1 << 16];
    let t0 = ticks();
    let mut s = TcpStream::connect((addr, TCP_PORT)).map_err(e("tcp connect"))?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        s.write_all(&chunk[..n]).map_err(e("tcp write"))?;
        left -= n as u64;
    }
    s.shutdown(std::net::Shutdown::Write).map_err(e("tcp shutdown"))?;
    let mut got = [0u8; 8];
    s.read_exact(&mut got).map_err(e("tcp confirmation"))?;
    let dt = ticks() - t0;
    if u64::from_le_bytes(got) != bytes {
        return Err(format!("server received {} of {bytes} bytes", u64::from_le_bytes(got)));
    }
    println!("BENCH ivnet_stream value={dt}");
    println!("BENCH ivnet_stream_per_mib value={}", dt * (1 << 20) / bytes.max(1));
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let res = match args.get(1).map(String::as_str) {
        Some("serve") => serve().map_err(|e| format!("serve: {e}")),
        Some("client") if args.len() == 5 => {
            match (args[3].parse(), args[4].parse()) {
                (Ok(r), Ok(b)) => client(&args[2], r, b),
                _ => Err("ROUNDS and BYTES are numbers".into()),
            }
        }
        _ => Err("usage: ivnet-bench serve | client ADDR ROUNDS BYTES".into()),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            println!("BENCH-ERROR ivnet-bench: {msg}");
            ExitCode::FAILURE
        }
    }
}
