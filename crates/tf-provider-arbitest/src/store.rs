//! The "cloud" behind the provider: one JSON file per object in a directory.
//!
//! `ROOT/NAME.json` holds `{"name", "content", "tags", "revision"}`. Tests
//! read, edit and delete these files behind Terraform's back; the provider
//! reads them on every refresh, so an edit is drift and a deletion is a
//! removed object. Writes go through a temporary file and a rename, so a
//! reader never sees half a file.

use std::collections::BTreeMap;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An object's name: its key in the directory, so restricted to what makes a
/// safe file name (`[A-Za-z0-9_.-]`, 1 to 128 characters, not starting with
/// a dot).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectName(String);

impl ObjectName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ObjectName {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(StoreError::InvalidName { name: s.to_owned() })
        }
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one object's file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    pub name: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    pub revision: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid object name {name:?}: use 1 to 128 of [A-Za-z0-9_.-], not starting with '.'")]
    InvalidName { name: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an arbitest object: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: the object already exists (import it, or delete the file)")]
    AlreadyExists { path: PathBuf },
    #[error("{path}: the object does not exist")]
    NotFound { path: PathBuf },
}

/// The directory of objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (and creates if missing) the directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| StoreError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of the object `name`.
    pub fn path(&self, name: &ObjectName) -> PathBuf {
        self.root.join(format!("{name}.json"))
    }

    /// The object, or `None` when its file is gone.
    pub fn get(&self, name: &ObjectName) -> Result<Option<StoredObject>, StoreError> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StoreError::Corrupt { path, source }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// Writes a new object; refuses to overwrite one that exists.
    pub fn create(&self, name: &ObjectName, object: &StoredObject) -> Result<(), StoreError> {
        let path = self.path(name);
        if path.exists() {
            return Err(StoreError::AlreadyExists { path });
        }
        self.write(name, object)
    }

    /// Replaces an existing object; refuses when it is gone.
    pub fn update(&self, name: &ObjectName, object: &StoredObject) -> Result<(), StoreError> {
        let path = self.path(name);
        if !path.exists() {
            return Err(StoreError::NotFound { path });
        }
        self.write(name, object)
    }

    /// Deletes the object; an object already gone is not an error.
    pub fn delete(&self, name: &ObjectName) -> Result<(), StoreError> {
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    fn write(&self, name: &ObjectName, object: &StoredObject) -> Result<(), StoreError> {
        let path = self.path(name);
        // Names never start with a dot, so this cannot be another object's file.
        let tmp = self.root.join(format!(".{name}.json.tmp"));
        let mut bytes =
            serde_json::to_vec_pretty(object).map_err(|source| StoreError::Corrupt {
                path: path.clone(),
                source,
            })?;
        bytes.push(b'\n');
        std::fs::write(&tmp, bytes).map_err(|source| StoreError::Io {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| StoreError::Io { path, source })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn name(s: &str) -> ObjectName {
        s.parse().unwrap()
    }

    #[test]
    fn names_are_safe_file_names() {
        for ok in ["a", "web-1", "x.y_z", "A9"] {
            assert_eq!(ok.parse::<ObjectName>().unwrap().as_str(), ok);
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "../x",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            let err = bad.parse::<ObjectName>().unwrap_err();
            assert!(
                err.to_string().contains("invalid object name"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn create_get_update_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("objects")).unwrap();
        let n = name("one");
        assert_eq!(store.get(&n).unwrap(), None);
        let mut obj = StoredObject {
            name: "one".into(),
            content: Some("hello".into()),
            tags: Some(BTreeMap::from([("env".into(), "test".into())])),
            revision: 1,
        };
        let err = store.update(&n, &obj).unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        store.create(&n, &obj).unwrap();
        assert_eq!(store.get(&n).unwrap().as_ref(), Some(&obj));
        let err = store.create(&n, &obj).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        obj.revision = 2;
        obj.content = None;
        store.update(&n, &obj).unwrap();
        assert_eq!(store.get(&n).unwrap().as_ref(), Some(&obj));
        // Only the object's file is left: no temporary file behind.
        let files: Vec<_> = std::fs::read_dir(store.root())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, vec![std::ffi::OsString::from("one.json")]);
        store.delete(&n).unwrap();
        assert_eq!(store.get(&n).unwrap(), None);
        store.delete(&n).unwrap();
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let n = name("bad");
        std::fs::write(store.path(&n), "{not json").unwrap();
        let err = store.get(&n).unwrap_err().to_string();
        assert!(
            err.contains("bad.json") && err.contains("not an arbitest object"),
            "{err}"
        );
    }
}
