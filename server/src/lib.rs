//! `endsession-server`: a RealtimeKit-shaped REST API, the WebSocket session hub that ends a session for everyone,
//! and the store (SQLite, or PostgreSQL with `--database`) behind both.
//!
//! The binary is a thin wrapper over [`start`], which tests call too, on `127.0.0.1:0` with a temporary data dir:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = endsession_server::start(endsession_server::config::Config::local("/tmp/data")).await?;
//! println!("listening on http://{}", server.addr());
//! # Ok(()) }
//! ```

pub mod api_token;
pub mod clock;
pub mod config;
pub mod dev;
pub mod hub;
pub mod listen;
pub mod presets;
pub mod rest;
pub mod routes;
pub mod state;
pub mod store;
pub mod token;
pub mod webhooks;
pub mod ws;

use crate::api_token::ApiTokens;
use crate::config::Config;
use crate::dev::DevSeed;
use crate::hub::{Detached, Hub, LocalHub, RedisHub};
use crate::state::AppState;
use crate::store::{Dialect, Store};
use crate::token::TokenKeys;
use crate::webhooks::Signer;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A running server. Dropping it stops accepting connections.
pub struct Server {
    addr: SocketAddr,
    store: Store,
    dev: Option<Arc<DevSeed>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The webhook delivery worker; stopped with the server.
    webhooks: JoinHandle<()>,
    /// Halted with the server, so that connections still open in this process change nothing after it.
    hub: Halt,
    /// On Postgres, the look for signing key rotations stored by another node or the operator; stopped with it.
    key_watch: Option<JoinHandle<()>>,
}

/// The hub a server halts when it is dropped.
enum Halt {
    Local(Arc<LocalHub>),
    Redis(Arc<RedisHub>),
}

impl Server {
    /// This node's number among the nodes sharing its Redis (`--redis`), None on the embedded hub.
    pub fn redis_node(&self) -> Option<u64> {
        match &self.hub {
            Halt::Redis(hub) => Some(hub.node()),
            Halt::Local(_) => None,
        }
    }

    /// The bound address (the real port when `--listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store, for tests that need to set up what the REST API cannot yet.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What `--dev` seeded.
    pub fn dev(&self) -> Option<&DevSeed> {
        self.dev.as_deref()
    }

    /// Serves until the listener fails.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let task = self.task.take().expect("the server task is present until waited on");
        Ok(task.await??)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        self.webhooks.abort();
        if let Some(watch) = &self.key_watch {
            watch.abort();
        }
        match &self.hub {
            Halt::Local(hub) => hub.halt(),
            Halt::Redis(hub) => hub.halt(),
        }
    }
}

/// Opens the store, seeds `--dev`, binds, and serves in a background task.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    let store = Store::open_configured(config.database.as_deref(), &config.data).await?;
    let secret = store.db().await?.server_secret().await?;
    let (hub, halt): (Arc<dyn Hub>, Halt) = match &config.redis {
        // Several nodes: the live sessions are in Redis, not in any node's memory, so there is nothing to restore.
        Some(url) => {
            // The nodes of one store share its secret: 8 bytes of its SHA-256 (which tell nothing of it) name their
            // keys in Redis.
            let cluster = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&secret));
            let cluster: String = cluster[..8].iter().map(|b| format!("{b:02x}")).collect();
            let redis = crate::hub::redis_client(url, config.redis_ca_file.as_deref())?;
            let hub = Arc::new(RedisHub::connect(redis, &cluster, store.clone(), config.reconnect_grace).await?);
            (hub.clone(), Halt::Redis(hub))
        }
        None => {
            // A restart does not end sessions: those a previous run left live are put back with their participants
            // absent, who resume them within the reconnect grace.
            let hub = Arc::new(LocalHub::new(store.clone(), config.reconnect_grace));
            let restored = hub.restore().await?;
            if restored > 0 {
                tracing::info!(restored, "restored sessions a previous run left live; participants may resume them");
            }
            (hub.clone(), Halt::Local(hub))
        }
    };
    // Every transition runs to its end whatever becomes of its caller (a REST handler past its deadline, a client
    // that hangs up): see `hub/detached.rs`.
    let hub: Arc<dyn Hub> = Arc::new(Detached::new(hub));
    // Made on the first start (a fraction of a second), read on later ones.
    let signer = match store.dialect() {
        Dialect::Sqlite => {
            let data = config.data.clone();
            tokio::task::spawn_blocking(move || Signer::load_or_create(&data)).await??
        }
        // Every node signs with the key `/.well-known/webhooks.json` publishes: the database's, the first stored.
        Dialect::Postgres => webhooks::shared_key::load_or_create(&store).await?,
    };
    let signer = Arc::new(signer.with_rotation_window(config.webhooks.rotation_window));
    let key_watch = (store.dialect() == Dialect::Postgres)
        .then(|| webhooks::shared_key::watch(store.clone(), Arc::downgrade(&signer)));
    let sink = config.webhooks.targets == webhooks::TargetPolicy::Any;
    let dev = if config.dev { Some(Arc::new(dev::seed(&store, sink).await?)) } else { None };

    let state = AppState {
        store: store.clone(),
        hub,
        tokens: Arc::new(TokenKeys::new(&secret, config.participant_token_ttl)),
        api_tokens: Arc::new(ApiTokens::new(&config.api_tokens)),
        dev: dev.clone(),
        webhook_signer: signer.clone(),
        sockets: Arc::new(ws::Sockets::new(config.limits.clone())),
        webhook_targets: config.webhooks.targets,
    };
    let app = routes::router(state, &config);

    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    if let Some(dev) = &dev {
        let _ = dev.base_uri.set(format!("http://{addr}"));
        dev::point_sink(&store, dev, addr).await?;
    }
    let task = tokio::spawn(listen::serve(listener, app, config.limits.clone()));
    let webhooks = webhooks::delivery::spawn(store.clone(), signer, config.webhooks)?;
    Ok(Server { addr, store, dev, task: Some(task), webhooks, hub: halt, key_watch })
}
