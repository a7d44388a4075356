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

    /// A new, empty file `name` in it, opened for reading and writing: its
    /// path and the open file.
    pub fn new_file(&self, name: &str) -> (PathBuf, std::fs::File) {
        let p = self.0.join(name);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&p)
            .unwrap();
        (p, f)
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
