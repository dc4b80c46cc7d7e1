//! `linerate`: the load generator, the kernel-socket sink, and the port report.
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod config;
mod info;
mod kbulk;
mod ksend;
mod latency;
mod payload;
mod report;
mod send;
mod sink;
mod units;

#[derive(Parser, Debug)]
#[command(
    name = "linerate",
    version,
    about = "User-space TCP sender on DPDK: load generator, sink and NIC benchmark harness"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Load generator: TCP connections from a DPDK port to one or more destinations.
    Send(Box<config::SendArgs>),
    /// Bring a DPDK port up, resolve the gateway by ARP through it, and print the port report.
    Info(info::InfoArgs),
    /// Kernel-socket TCP receiver: reports bytes and SHA-256 per connection.
    Sink(sink::SinkArgs),
    /// Kernel-socket TCP sender: fixed-rate messages, each write() timed (the send-latency
    /// baseline for `linerate send --latency`).
    Ksend(ksend::KsendArgs),
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
    let r = match cli.cmd {
        Cmd::Send(a) => {
            return match send::run(*a) {
                Ok(()) => ExitCode::SUCCESS,
                Err(send::SendError::Usage(e)) => {
                    eprintln!("linerate: error: {e}");
                    ExitCode::from(2)
                }
                Err(send::SendError::Fail(e)) => {
                    eprintln!("linerate: error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Info(a) => info::run(&a),
        Cmd::Sink(a) => sink::run(&a),
        Cmd::Ksend(a) => {
            let k = match a.validate() {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("linerate: error: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(b) = &k.bulk {
                kbulk::run(b).and_then(|r| {
                    print_report(k.json, &r, || r.to_text());
                    r.failure().map_or(Ok(()), Err)
                })
            } else {
                ksend::run(&k).map(|r| print_report(k.json, &r, || r.to_text()))
            }
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linerate: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a report as one JSON line, or as text.
fn print_report<R: serde::Serialize>(json: bool, r: &R, text: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string(r).expect("report serialises"));
    } else {
        println!("{}", text());
    }
}
