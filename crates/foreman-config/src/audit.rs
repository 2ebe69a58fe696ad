//! `[audit]`: how long the audit trail keeps entries and where its signing key lives.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::parse_duration;

/// `[audit]`.
///
/// Entries older than `retention` are pruned (hourly) behind a checkpoint signed with
/// HMAC-SHA256 under the key in `signing_key_file`: hex, at least 16 bytes, created with 32
/// random bytes (mode 0600) on first start when missing. Servers sharing one database must
/// share the key file, or each would refuse the others' checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// How long entries are kept (`400d`); `0s` keeps them forever.
    pub retention: String,
    /// The key file; empty: `<data dir>/audit.key`.
    pub signing_key_file: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention: "400d".into(),
            signing_key_file: String::new(),
        }
    }
}

impl AuditConfig {
    /// How long entries are kept; `None`: forever (validated by [`crate::Config::validate`]).
    #[must_use]
    pub fn retention(&self) -> Option<Duration> {
        parse_duration(&self.retention)
            .ok()
            .filter(|d| !d.is_zero())
    }

    /// The signing key file, resolved against `data_dir`.
    #[must_use]
    pub fn signing_key_path(&self, data_dir: &Path) -> PathBuf {
        if self.signing_key_file.trim().is_empty() {
            data_dir.join("audit.key")
        } else {
            data_dir.join(self.signing_key_file.trim())
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        parse_duration(&self.retention)
            .map_err(|e| ConfigError::invalid("audit.retention", &self.retention, &e))?;
        if self
            .retention()
            .is_some_and(|d| d < Duration::from_secs(86_400))
        {
            return Err(ConfigError::invalid(
                "audit.retention",
                &self.retention,
                "must be at least 1d (or 0s to keep entries forever)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_parses_and_short_ones_are_refused() {
        let c = AuditConfig::default();
        assert_eq!(c.retention(), Some(Duration::from_secs(400 * 86_400)));
        assert!(c.validate().is_ok());
        let forever = AuditConfig {
            retention: "0s".into(),
            ..AuditConfig::default()
        };
        assert_eq!(forever.retention(), None);
        assert!(forever.validate().is_ok());
        for bad in ["1h", "soon", ""] {
            let c = AuditConfig {
                retention: bad.into(),
                ..AuditConfig::default()
            };
            assert!(c.validate().is_err(), "{bad}");
        }
        assert_eq!(
            c.signing_key_path(Path::new("/data")),
            PathBuf::from("/data/audit.key")
        );
    }
}
