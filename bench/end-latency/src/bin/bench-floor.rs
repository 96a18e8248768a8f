//! `bench-floor --listen 127.0.0.1:0`: the bare broadcast server of bench/end-latency. Prints
//! `listening on ADDR` once bound.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = match args.iter().position(|a| a == "--listen") {
        Some(i) => args.get(i + 1).context("--listen ADDR")?.clone(),
        None => "127.0.0.1:0".into(),
    };
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    endsession_bench::floor::serve(listener).await;
    Ok(())
}
