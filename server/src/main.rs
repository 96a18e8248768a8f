//! `endsession-server --listen 127.0.0.1:8787 --data ./data --api-token ACCOUNT:SECRET:SCOPE [--dev]`
//!
//! Standard output carries only lines meant for people and scripts: the `--dev` seed lines, then
//! `listening on http://ADDR` once bound (scripts wait for it), then `demo: http://ADDR/` with `--dev`.
//! Logs go to standard error.

use clap::Parser;
use endsession_server::config::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let env_tokens = std::env::var("ENDSESSION_API_TOKENS").ok();
    let config = Cli::parse().into_config(env_tokens.as_deref()).map_err(anyhow::Error::msg)?;
    if config.rotate_webhook_signing_key {
        if let Some(url) = &config.database {
            // An operator's command on the database the nodes share: see webhooks/shared_key.rs.
            let store = endsession_server::store::Store::connect(url).await?;
            let rotation =
                endsession_server::webhooks::shared_key::rotate(&store, config.webhooks.rotation_window).await?;
            endsession_server::webhooks::signing::report(&rotation);
            return Ok(());
        }
        // An operator's command on the data directory, not a server: see webhooks/signing.rs.
        return endsession_server::webhooks::signing::rotate_and_report(&config.data, config.webhooks.rotation_window);
    }
    let dev = config.dev;
    // A refused start (e.g. a data directory others can read) is one clear line on standard error, not a backtrace.
    let server = match endsession_server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("endsession-server: {e:#}");
            std::process::exit(1);
        }
    };
    if let Some(seed) = server.dev() {
        for line in &seed.lines {
            println!("{line}");
        }
    }
    println!("listening on http://{}", server.addr());
    if dev {
        println!("demo: http://{}/", server.addr());
    }
    tokio::select! {
        result = server.wait() => result,
        _ = shutdown_signal() => Ok(()),
    }
}

/// Ctrl-C or SIGTERM. Live sessions are not persisted across a restart: the next start ends them.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
