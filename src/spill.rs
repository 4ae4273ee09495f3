//! Where the external sorts put their runs (the scan's candidate rows, dedupe's plan): a
//! private directory in the temporary directory (`TMPDIR`), mode 0700, removed when the
//! sort is done, whose files are 0600. The runs hold phone numbers: no other user of the
//! host may read them.
use std::path::Path;

use anyhow::{Context, Result};

/// Makes every file and directory this process creates from now on private (umask 077:
/// files 0600, directories 0700). The sort library creates its run files with the default
/// mode, which the umask is the only way to narrow; the one file seqfix writes for other
/// users, the metrics file, sets its mode (0644) explicitly.
pub fn private_files() {
    // SAFETY: umask only sets the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// A new private directory for the runs of the sort of `what` (the scan, the plan),
/// removed on drop.
pub fn dir(what: &str) -> Result<tempfile::TempDir> {
    private_files();
    let dir = tempfile::Builder::new().prefix("seqfix-sort-").tempdir().with_context(|| {
        format!("cannot sort {what} in the temporary directory (set TMPDIR to a writable directory with free space)")
    })?;
    restrict(dir.path())?;
    Ok(dir)
}

/// Mode 0700 on `dir`, whatever created it.
fn restrict(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))
}

/// Creates (or truncates) `path` for writing with mode 0600, whatever the umask and
/// whatever mode an existing file had: for files that hold phone numbers (the plan file).
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_sort_spills_into_a_private_directory_of_private_files() {
        let dir = dir("the test").unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        let mut sorter =
            extsort::ExternalSorter::new().with_segment_size(2).with_sort_dir(dir.path().to_path_buf()).pushed();
        for i in 0..7u32 {
            sorter.push(Run(i)).unwrap();
        }
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(files.len() >= 2, "the sort wrote its runs: {files:?}");
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        let back: Vec<u32> = sorter.done().unwrap().map(|r| r.unwrap().0).collect();
        assert_eq!(back, (0..7).collect::<Vec<_>>());
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists(), "removed when done");
    }

    #[test]
    fn private_files_are_0600_even_when_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.csv");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(private_file(&p).unwrap());
        assert_eq!(mode(&p), 0o600);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "");
    }

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct Run(u32);
    impl extsort::Sortable for Run {
        fn encode<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
            w.write_all(&self.0.to_le_bytes())
        }
        fn decode<R: std::io::Read>(r: &mut R) -> std::io::Result<Self> {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)?;
            Ok(Run(u32::from_le_bytes(b)))
        }
    }
}
