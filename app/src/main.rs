//! `linerate`: the load generator, the kernel-socket sink, and the port report.
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod info;
mod sink;

#[derive(Parser, Debug)]
#[command(name = "linerate", version, about = "User-space TCP sender on DPDK: load generator, sink and NIC benchmark harness")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Bring a DPDK port up, resolve the gateway by ARP through it, and print the port report.
    Info(info::InfoArgs),
    /// Kernel-socket TCP receiver: reports bytes and SHA-256 per connection.
    Sink(sink::SinkArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap's help and version go to stdout with success; usage errors become one line.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first} (see linerate --help)");
            return ExitCode::from(2);
        }
    };
    let r = match &cli.cmd {
        Cmd::Info(a) => info::run(a),
        Cmd::Sink(a) => sink::run(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linerate: error: {e}");
            ExitCode::FAILURE
        }
    }
}
