//! `syshyper ivshmem-demo`: the root side of docs/ivshmem.md's demo
//! protocol over an ivshmem UIO device: the basic demo (hello texts and
//! state changes, as Jailhouse's ivshmem demos) and the checked ping-pong.

mod proto;
mod uio;

use anyhow::{bail, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use uio::Device;

/// Options of `ivshmem-demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// UIO device (default: the first uio_ivshmem device in /sys/class/uio).
    #[arg(long)]
    dev: Option<PathBuf>,
    /// Ping-pong: send N PINGs to --peer, each answered before the next.
    #[arg(long, value_name = "N", requires = "peer")]
    ping: Option<u32>,
    /// The peer (its ID on the link) to ping, or to send hello texts to
    /// (default: every other peer).
    #[arg(long, value_name = "ID")]
    peer: Option<u32>,
    /// Basic demo: stop after sending this many hello texts (default: run
    /// until killed).
    #[arg(long, value_name = "N")]
    count: Option<u32>,
    /// Basic demo: milliseconds between hello texts.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    interval: u64,
    /// Only print state table entry ID ("peer ID state S") and exit.
    #[arg(long, value_name = "ID", conflicts_with_all = ["ping", "count"])]
    state: Option<u32>,
    /// Check of the driver: only map NAME writable (the driver refuses it
    /// for state_table and input_sections) and exit.
    #[arg(long, value_name = "NAME", hide = true, conflicts_with_all = ["ping", "count", "state"])]
    map_writable: Option<String>,
    /// Seconds to wait for a peer's answer (or its arrival) before giving up.
    #[arg(long, value_name = "S", default_value_t = 5)]
    timeout: u64,
}

pub fn run(args: Args) -> Result<()> {
    if let Some(name) = &args.map_writable {
        let dev = Device::open(args.dev.as_deref(), Some(name))?;
        println!("ivshmem-demo: {}: {name} mapped writable ({} bytes)", dev.path.display(), dev.size(name));
        return Ok(());
    }
    let dev = Device::open(args.dev.as_deref(), None)?;
    let (id, peers) = (dev.id(), dev.max_peers());
    println!(
        "ivshmem-demo: {} ({}): ID {id}, {peers} peers, state table {} bytes, r/w section {} bytes, output sections {} bytes",
        dev.path.display(),
        dev.name,
        dev.size("state_table"),
        dev.size("rw_section"),
        dev.out_size()
    );
    if id >= peers || dev.size("input_sections") < peers as usize * dev.out_size() {
        bail!("inconsistent device: ID {id} of {peers} peers, input sections {} bytes", dev.size("input_sections"));
    }
    if let Some(p) = args.state {
        if p >= peers {
            bail!("--state {p}: the link has peers 0..{peers}");
        }
        println!("ivshmem-demo: peer {p} state {}", dev.state(p));
        return Ok(());
    }
    if let Some(p) = args.peer {
        if p >= peers || p == id {
            bail!("--peer {p}: the link has peers 0..{peers} and we are {id}");
        }
    }
    let timeout = Duration::from_secs(args.timeout);
    match args.ping {
        Some(n) => ping(&dev, args.peer.unwrap_or(0), n, timeout),
        None => demo(&dev, &args),
    }
}

/// Waits until `done` holds, re-enabling interrupts before each look (the
/// driver's one-shot mode); fails after `timeout` without progress.
fn wait_for<T>(dev: &Device, timeout: Duration, what: &dyn Fn() -> String, mut done: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        dev.enable_interrupts();
        if let Some(v) = done() {
            return Ok(v);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || dev.wait(left)?.is_none() {
            // One last look: the answer may have come without an interrupt.
            if let Some(v) = done() {
                return Ok(v);
            }
            bail!("{} within {} s", what(), timeout.as_secs());
        }
    }
}

/// The pinger of docs/ivshmem.md: PING seq 1..=n to `peer`, each PONG
/// checked against the payload's hash.
fn ping(dev: &Device, peer: u32, n: u32, timeout: Duration) -> Result<()> {
    let id = dev.id();
    let out = dev.out_size();
    dev.set_state(id + 1);
    wait_for(dev, timeout, &|| format!("peer {peer} did not come up (state table entry 0)"), || {
        (dev.state(peer) != 0).then_some(())
    })?;
    println!("ivshmem-demo: peer {peer} is up (state {}), {n} pings", dev.state(peer));
    let start = Instant::now();
    let mut errors = 0u32;
    for seq in 1..=n {
        let payload = proto::payload(seq, out);
        let h = proto::ping(seq, &payload);
        dev.write_out(proto::HEADER_LEN as usize, &payload);
        dev.write_out_words(h.words());
        dev.ring(peer);
        let what = || {
            format!(
                "no PONG {seq} from peer {peer} (its state {}, its record {:08x?})",
                dev.state(peer),
                dev.peer_words(peer)
            )
        };
        let answer = wait_for(dev, timeout, &what, || {
            match proto::answer(&proto::Header::from_words(dev.peer_words(peer)), seq, h.sum) {
                proto::Answer::Pending => None,
                a => Some(a),
            }
        });
        match answer {
            Ok(proto::Answer::BadSum(sum)) => {
                errors += 1;
                eprintln!("ivshmem-demo: PONG {seq}: sum {sum:08x}, sent {:08x} ({} bytes)", h.sum, payload.len());
            }
            Ok(_) => {}
            Err(e) => {
                println!("ivshmem-demo: {} round trips, {} errors", seq - 1, errors + 1);
                return Err(e);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ivshmem-demo: {n} round trips, {errors} errors ({:.1} s, {:.0} round trips/s)",
        secs,
        f64::from(n) / secs.max(1e-9)
    );
    dev.set_state(0);
    if errors > 0 {
        bail!("{errors} of {n} PONGs had a wrong checksum");
    }
    Ok(())
}

/// The basic demo: hello texts out every interval, and on every interrupt
/// the peers whose state or text changed.
fn demo(dev: &Device, args: &Args) -> Result<()> {
    let (id, peers) = (dev.id(), dev.max_peers());
    let targets: Vec<u32> = match args.peer {
        Some(p) => vec![p],
        None => (0..peers).filter(|&p| p != id).collect(),
    };
    let mut states: Vec<u32> = (0..peers).map(|p| dev.state(p)).collect();
    let mut texts: Vec<Option<String>> = (0..peers).map(|p| peer_text(dev, p)).collect();
    dev.set_state(id + 1);
    println!("ivshmem-demo: state {} set; peers' states {states:?}", id + 1);
    let interval = Duration::from_millis(args.interval.max(1));
    let (mut sent, mut received, mut next) = (0u32, 0u32, Instant::now());
    loop {
        // On before a text goes out, so its answer finds them on. Here
        // through UIO's irqcontrol; the pinger writes the register.
        dev.irqcontrol(true)?;
        if Instant::now() >= next {
            // The last text gets one interval for its answer.
            if args.count.is_some_and(|c| sent >= c) {
                break;
            }
            sent += 1;
            dev.write_out(0, &proto::hello(id, sent));
            for &p in &targets {
                dev.ring(p);
            }
            println!("ivshmem-demo: sent \"Hello from peer {id}, message {sent}\" to peer(s) {targets:?}");
            next += interval;
        }
        if let Some(count) = dev.wait(next.saturating_duration_since(Instant::now()))? {
            println!("ivshmem-demo: interrupt #{count}");
        }
        for p in (0..peers).filter(|&p| p != id) {
            let s = dev.state(p);
            if s != states[p as usize] {
                println!("ivshmem-demo: peer {p} state {} -> {s}", states[p as usize]);
                states[p as usize] = s;
            }
            let t = peer_text(dev, p);
            if t.is_some() && t != texts[p as usize] {
                println!("ivshmem-demo: peer {p}: {}", t.as_deref().unwrap_or(""));
                received += 1;
            }
            texts[p as usize] = t;
        }
    }
    dev.set_state(0);
    println!("ivshmem-demo: {sent} texts sent, {received} received");
    if received == 0 {
        bail!("no text from any peer");
    }
    Ok(())
}

fn peer_text(dev: &Device, peer: u32) -> Option<String> {
    proto::text(&dev.peer_bytes(peer, 0, proto::MAX_TEXT))
}
