//! `bench-floor --listen 127.0.0.1:0`: the bare broadcast server of bench/end-latency. Prints
//! `listening on ADDR` once bound.

use clap::Parser;
use std::net::SocketAddr;

/// The bare WebSocket broadcast that bench/end-latency compares endsession-server against.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free one (printed as `listening on ADDR`).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    endsession_bench::floor::serve(listener).await;
    Ok(())
}
