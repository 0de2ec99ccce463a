//! The key file: versioned master keys (key-encryption keys) made by the
//! first start or `paylink init`, stored with mode 0600. From the master key
//! paylink derives, with HKDF-SHA256 and a purpose label, the keys it needs
//! (today: the pepper of API key hashes).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "key file {0} is readable or writable by group or others (mode {1:o}); run `chmod 600 {0}`"
    )]
    Permissions(PathBuf, u32),
    #[error("key file {0} is not a valid paylink key file")]
    Malformed(PathBuf),
    #[error("PAYLINK_MASTER_KEY must be 32 bytes encoded as base64 (44 characters)")]
    BadEnvKey,
    #[error("the operating system's random number generator failed")]
    Rng,
}

/// One 256-bit master key with its version.
pub struct MasterKey {
    pub version: u32,
    key: Secret<Vec<u8>>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MasterKey {{ version: {}, key: [REDACTED] }}",
            self.version
        )
    }
}

impl MasterKey {
    /// Derives a 32-byte subkey for `purpose` (HKDF-SHA256, no salt).
    pub fn derive(&self, purpose: &str) -> Secret<Vec<u8>> {
        let hk = Hkdf::<Sha256>::new(None, self.key.expose());
        let mut out = vec![0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 255*32, so expand
        // cannot fail; fall back to an all-zero key would be wrong, so keep
        // the buffer only on success.
        if hk.expand(purpose.as_bytes(), &mut out).is_err() {
            out.zeroize();
            out.clear();
        }
        Secret::new(out)
    }
}

#[derive(Serialize, Deserialize)]
struct FileKey {
    version: u32,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    format: String,
    keys: Vec<FileKey>,
}

const FORMAT: &str = "paylink-keyfile-v1";

/// The master keys paylink runs with; the newest version is current.
#[derive(Debug)]
pub struct KeyFile {
    keys: Vec<MasterKey>,
}

impl KeyFile {
    /// The current (newest) master key.
    pub fn current(&self) -> &MasterKey {
        // `load`/`create` guarantee at least one key.
        #[allow(clippy::indexing_slicing)]
        let k = &self.keys[self.keys.len() - 1];
        k
    }

    /// The master key of `version`, if the file still holds it.
    pub fn get(&self, version: u32) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.version == version)
    }

    /// The versions held, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.version).collect()
    }

    /// Adds a new master key version to the key file at `path` (written to a
    /// temporary file with mode 0600, synced, then renamed over the old one)
    /// and makes it current. Returns the new version.
    pub fn add_version(&mut self, path: &Path) -> Result<u32, KeyFileError> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|_| KeyFileError::Rng)?;
        let version = self.keys.iter().map(|k| k.version).max().unwrap_or(0) + 1;
        self.keys.push(MasterKey {
            version,
            key: Secret::new(raw.to_vec()),
        });
        raw.zeroize();
        self.write(path)?;
        Ok(version)
    }

    /// Removes master key `version` from the key file at `path`. The
    /// caller checks first that no data key is wrapped under it; the
    /// current version can't be removed.
    pub fn retire(&mut self, path: &Path, version: u32) -> Result<(), KeyFileError> {
        if version == self.current().version || self.get(version).is_none() {
            return Err(KeyFileError::Malformed(path.to_path_buf()));
        }
        self.keys.retain(|k| k.version != version);
        self.write(path)
    }

    /// Writes the keys to `path`: a temporary file with mode 0600, synced,
    /// then renamed over the old one.
    fn write(&self, path: &Path) -> Result<(), KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = FileFormat {
            format: FORMAT.into(),
            keys: self
                .keys
                .iter()
                .map(|k| FileKey {
                    version: k.version,
                    key: base64::engine::general_purpose::STANDARD.encode(k.key.expose()),
                })
                .collect(),
        };
        let mut body = serde_json::to_vec_pretty(&file)
            .map_err(|_| KeyFileError::Malformed(path.to_path_buf()))?;
        for mut k in file.keys {
            k.key.zeroize();
        }
        let tmp = path.with_extension("key.new");
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
        body.zeroize();
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// Loads the key from `PAYLINK_MASTER_KEY` (base64 of 32 bytes) if
    /// given, else from `path`, creating the file (mode 0600) if missing.
    pub fn load_or_create(
        path: &Path,
        env_key: Option<&Secret<String>>,
    ) -> Result<Self, KeyFileError> {
        if let Some(k) = env_key {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(k.expose().trim())
                .map_err(|_| KeyFileError::BadEnvKey)?;
            if bytes.len() != 32 {
                return Err(KeyFileError::BadEnvKey);
            }
            return Ok(Self {
                keys: vec![MasterKey {
                    version: 1,
                    key: Secret::new(bytes),
                }],
            });
        }
        if path.exists() {
            Self::load(path)
        } else {
            Self::create(path)
        }
    }

    /// Creates a new key file with one fresh key. Fails if it exists.
    pub fn create(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).map_err(|_| KeyFileError::Rng)?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let mut body = serde_json::to_vec_pretty(&FileFormat {
            format: FORMAT.into(),
            keys: vec![FileKey {
                version: 1,
                key: b64,
            }],
        })
        .map_err(|_| KeyFileError::Malformed(path.to_path_buf()))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.sync_all().map_err(io)?;
        body.zeroize();
        let key = Secret::new(raw.to_vec());
        raw.zeroize();
        Ok(Self {
            keys: vec![MasterKey { version: 1, key }],
        })
    }

    /// Loads an existing key file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyFileError::Permissions(path.to_path_buf(), mode));
            }
        }
        let mut body = std::fs::read(path).map_err(io)?;
        let parsed: Result<FileFormat, _> = serde_json::from_slice(&body);
        body.zeroize();
        let malformed = || KeyFileError::Malformed(path.to_path_buf());
        let parsed = parsed.map_err(|_| malformed())?;
        if parsed.format != FORMAT || parsed.keys.is_empty() {
            return Err(malformed());
        }
        let mut keys = Vec::with_capacity(parsed.keys.len());
        for mut k in parsed.keys {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(k.key.as_bytes())
                .map_err(|_| malformed())?;
            k.key.zeroize();
            if bytes.len() != 32 {
                return Err(malformed());
            }
            keys.push(MasterKey {
                version: k.version,
                key: Secret::new(bytes),
            });
        }
        keys.sort_by_key(|k| k.version);
        Ok(Self { keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_load_gives_same_derived_keys() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("paylink.key");
        let a = KeyFile::load_or_create(&p, None)?;
        let b = KeyFile::load_or_create(&p, None)?;
        assert_eq!(a.current().derive("x"), b.current().derive("x"));
        assert_ne!(a.current().derive("x"), a.current().derive("y"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))?;
            assert!(matches!(
                KeyFile::load(&p),
                Err(KeyFileError::Permissions(..))
            ));
        }
        Ok(())
    }

    #[test]
    fn add_version_keeps_old_keys() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("paylink.key");
        let mut a = KeyFile::load_or_create(&p, None)?;
        let v1 = a.current().derive("x");
        assert_eq!(a.add_version(&p)?, 2);
        let b = KeyFile::load(&p)?;
        assert_eq!(b.versions(), vec![1, 2]);
        assert_eq!(b.current().version, 2);
        assert_eq!(b.get(1).map(|k| k.derive("x")), Some(v1));
        let mut c = b;
        assert!(c.retire(&p, 2).is_err(), "the current version stays");
        c.retire(&p, 1)?;
        assert_eq!(KeyFile::load(&p)?.versions(), vec![2]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p)?.permissions().mode() & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn env_key_must_be_32_bytes() {
        let bad = Secret::new("c2hvcnQ=".to_string());
        assert!(matches!(
            KeyFile::load_or_create(Path::new("/nonexistent"), Some(&bad)),
            Err(KeyFileError::BadEnvKey)
        ));
        let good = Secret::new(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        assert!(KeyFile::load_or_create(Path::new("/nonexistent"), Some(&good)).is_ok());
    }

    #[test]
    fn debug_hides_key() -> Result<(), KeyFileError> {
        let good = Secret::new(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        let k = KeyFile::load_or_create(Path::new("/nonexistent"), Some(&good))?;
        assert!(format!("{k:?}").contains("REDACTED"));
        Ok(())
    }
}
