//! Scratch directories for unit tests: removed when dropped, so also when
//! a test fails half-way.

use std::path::{Path, PathBuf};

/// A fresh directory under the temporary directory.
pub struct Scratch(PathBuf);

impl Scratch {
    /// An empty `utmps-NAME-PID` directory (a leftover of an earlier run
    /// with the same pid is removed first).
    pub fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("utmps-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}
