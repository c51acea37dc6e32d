//! Reports written from a run's records: JUnit XML and Cucumber JSON. Every file is written atomically
//! (a temporary file in the same directory, then a rename), so a reader never sees half a report.

pub mod cucumber_json;
pub mod evidence;
pub mod html;
pub mod junit;
pub mod model;
pub mod repro;
pub mod shipped;

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot render {what}: {message}")]
    Render { what: &'static str, message: String },
    #[error("{path}:{line}: {message}")]
    Input { path: PathBuf, line: usize, message: String },
}

/// Writes `bytes` to `path` atomically, creating the directory if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write { path: path.to_owned(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    // Reports are shared evidence: readable by others (tempfile creates them owner-only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(err)?;
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Checks, before a run spends its time, that reports can be written in `dir` (creating it if needed): a
/// temporary file is made there and removed.
pub fn ensure_writable(dir: &Path) -> Result<(), ReportError> {
    let err = |source| ReportError::Write { path: dir.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(err)?;
    tempfile::NamedTempFile::new_in(dir).map_err(err)?.close().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("sub/report.xml");
        write_atomic(&path, b"first version, longer").unwrap_or_else(|e| panic!("{e}"));
        write_atomic(&path, b"second").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), "second");
        let leftovers = std::fs::read_dir(path.parent().unwrap_or(dir.path())).map(|d| d.count()).unwrap_or(0);
        assert_eq!(leftovers, 1, "no temporary files are left behind");
    }

    #[test]
    fn a_reports_directory_is_checked_before_use() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let reports = dir.path().join("new/reports");
        assert!(ensure_writable(&reports).is_ok());
        assert_eq!(std::fs::read_dir(&reports).map(|d| d.count()).unwrap_or(99), 0, "nothing left behind");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap_or_else(|e| panic!("{e}"));
        let e = ensure_writable(&blocker.join("reports")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("cannot write") && e.contains("file/reports"), "{e}");
    }

    #[test]
    fn unwritable_place_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap_or_else(|e| panic!("{e}"));
        let e = write_atomic(&blocker.join("junit.xml"), b"x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("cannot write") && e.contains("junit.xml"), "{e}");
    }
}
