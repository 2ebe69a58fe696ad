//! The audit trail's signing key: read from `[audit] signing_key_file` (default
//! `<data dir>/audit.key`), created with 32 random bytes and mode 0600 when missing.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use foreman_domain::audit::AuditKey;

/// The key in `path`, created there when the file does not exist.
///
/// # Errors
/// The file cannot be read or created, or does not hold a hex key of at least 16 bytes.
pub fn load_or_create(path: &Path) -> Result<AuditKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => AuditKey::from_hex(&text)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("audit signing key {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = AuditKey::generate();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .with_context(|| format!("cannot create audit signing key {}", path.display()))?;
            writeln!(file, "{}", key.to_hex())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "created the audit trail's signing key");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(load_or_create(&path).is_err());
    }
}
