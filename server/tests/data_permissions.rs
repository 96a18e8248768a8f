//! The data directory holds secrets (issue 11, fault 4): it and every file in it are owner-only whatever the umask,
//! and a start refuses a data directory that group or others can reach, naming the path and the `chmod` fix.
#![cfg(unix)]

mod common;

use common::GUARD;
use endsession_server::config::Config;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The server binary started by `sh` under `umask 022`, as a shell of most systems does.
fn server_under_umask_022(data: &Path) -> std::process::Child {
    Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" --listen 127.0.0.1:0 --data \"$1\""])
        .arg(env!("CARGO_BIN_EXE_endsession-server"))
        .arg(data)
        .env_remove("ENDSESSION_API_TOKENS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most a minute: the first start makes an RSA key) for the `listening on` line.
fn wait_listening(child: &mut std::process::Child) {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("listening on") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(std::time::Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        panic!("the server did not start: {stderr}");
    }
}

/// A data directory a server has run on: the database, its WAL files and the webhook key.
async fn used_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let started = endsession_server::start(Config::local(dir.path())).await.unwrap();
    drop(started);
    dir
}

async fn refusal(data: &Path) -> String {
    match endsession_server::start(Config::local(data)).await {
        Ok(_) => panic!("the server started on a data directory others can read"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn under_umask_022_the_data_directory_and_its_files_are_owner_only() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("nested").join("data");
    let mut child = server_under_umask_022(&data);
    wait_listening(&mut child);
    let files: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().path()).collect();
    let modes: Vec<_> =
        files.iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), mode(p))).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(data.parent().unwrap()), 0o700, "a parent it created");
    for name in ["endsession.sqlite3", "endsession.sqlite3-wal", "endsession.sqlite3-shm", "webhooks-signing-key.pem"] {
        assert!(modes.iter().any(|(file, _)| file == name), "{name} exists: {modes:?}");
    }
    for (name, file_mode) in &modes {
        assert_eq!(*file_mode, 0o600, "{name}: {modes:?}");
    }
}

#[tokio::test]
async fn a_data_directory_others_can_read_is_refused_with_the_fix() {
    let dir = used_data_dir().await;
    set_mode(dir.path(), 0o755);
    let message = refusal(dir.path()).await;
    assert!(message.contains(&format!("{} (mode 755)", dir.path().display())), "{message}");
    assert!(message.contains(&format!("chmod -R go-rwx {}", dir.path().display())), "{message}");

    // Following the message's advice is enough to start again.
    Command::new("chmod").args(["-R", "go-rwx"]).arg(dir.path()).status().unwrap();
    drop(tokio::time::timeout(GUARD, endsession_server::start(Config::local(dir.path()))).await.unwrap().unwrap());
}

#[tokio::test]
async fn a_database_or_key_file_others_can_read_is_refused() {
    for (name, file_mode) in
        [("endsession.sqlite3", 0o644), ("endsession.sqlite3-wal", 0o640), ("webhooks-signing-key.pem", 0o604)]
    {
        let dir = used_data_dir().await;
        let file = dir.path().join(name);
        if !file.exists() {
            std::fs::File::create(&file).unwrap();
        }
        set_mode(&file, file_mode);
        let message = refusal(dir.path()).await;
        assert!(message.contains(&format!("{} (mode {file_mode:03o})", file.display())), "{name}: {message}");
        assert!(message.contains("chmod"), "{message}");
    }
}

#[tokio::test]
async fn an_empty_directory_is_taken_over_owner_only() {
    // `mkdir data` (755 under umask 022) holds no secret yet: the server makes it 700 before writing any.
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    let started = endsession_server::start(Config::local(dir.path())).await.unwrap();
    drop(started);
    assert_eq!(mode(dir.path()), 0o700);
}

#[tokio::test]
async fn the_binary_refuses_with_one_line_naming_the_path_and_the_fix() {
    let dir = used_data_dir().await;
    set_mode(dir.path(), 0o755);
    let mut child = server_under_umask_022(dir.path());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit on an exposed data directory");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{} (mode 755)", dir.path().display())), "{stderr}");
    assert!(stderr.contains(&format!("chmod -R go-rwx {}", dir.path().display())), "{stderr}");
    assert!(!stderr.contains("backtrace"), "one clear message: {stderr}");
}
