//! The data directory holds secrets (the participant token secret in the database, the webhook signing key), so it
//! and every file in it are its owner's only: created 700 and 600 whatever the umask, and a start refuses a
//! directory or file that group or others can reach (issue 11, fault 4), naming it and the `chmod` that fixes it.

use std::path::Path;

/// Why the data directory is refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExposedData(pub String);

/// Creates `dir` (and missing parents) owner-only if it does not exist, and makes an empty one owner-only (it holds
/// nothing yet, so `mkdir data` or a fresh temporary directory is fine); then checks that neither it nor anything in
/// it is open to group or others.
pub fn prepare(dir: &Path) -> Result<(), super::StoreError> {
    if !dir.exists() {
        create_private_dir(dir)?;
    } else if dir.is_dir() && std::fs::read_dir(dir)?.next().is_none() {
        set_mode(dir, 0o700)?;
    }
    check_private(dir)
}

/// Creates the database file owner-only before SQLite opens it: SQLite gives its `-wal`, `-shm` and `-journal` files
/// the mode of the database file, so they are owner-only too.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => set_mode(path, 0o600),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    // The umask can only take bits away; setting the mode again makes it exactly 700 whatever the umask.
    set_mode(dir, 0o700)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Refuses the directory if it, or any entry in it, has a group or other permission bit.
#[cfg(unix)]
fn check_private(dir: &Path) -> Result<(), super::StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777);
    let mut exposed = Vec::new();
    let dir_mode = mode(dir)?;
    if dir_mode & 0o077 != 0 {
        exposed.push(format!("{} (mode {dir_mode:03o})", dir.display()));
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let file_mode = mode(&path)?;
        if file_mode & 0o077 != 0 {
            exposed.push(format!("{} (mode {file_mode:03o})", path.display()));
        }
    }
    if exposed.is_empty() {
        return Ok(());
    }
    Err(ExposedData(format!(
        "refusing to start: the data directory holds the secrets that sign participant tokens and webhooks, and \
         group or others can reach {}; make it its owner's only with `chmod -R go-rwx {}` and start again",
        exposed.join(", "),
        dir.display()
    ))
    .into())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), super::StoreError> {
    Ok(())
}
