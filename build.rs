//! Build facts for `seqfix --version`: the git commit the binary was built from and the TLS
//! backend its features chose. A build from a source tree without git (a crate tarball, a
//! Debian source package) says "unknown", or takes SEQFIX_BUILD_COMMIT when set.
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&dir);
    println!("cargo:rerun-if-env-changed=SEQFIX_BUILD_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let commit = std::env::var("SEQFIX_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(dir, &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it names (a commit), and
    // packed-refs (a gc). In a worktree HEAD lives in its own git dir, branches in the common one.
    if let (Some(git_dir), Some(common)) = (
        git(dir, &["rev-parse", "--absolute-git-dir"]),
        git(dir, &["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={common}/packed-refs");
        if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={common}/{branch}");
        }
    }
    let tls = match (std::env::var_os("CARGO_FEATURE_RUSTLS"), std::env::var_os("CARGO_FEATURE_NATIVE_TLS")) {
        (Some(_), None) => "rustls (ring)",
        (None, Some(_)) => "native-tls (OpenSSL)",
        (Some(_), Some(_)) => panic!("enable one TLS backend: the rustls feature (default) or native-tls, not both"),
        (None, None) => panic!("enable one TLS backend: the rustls feature (default) or native-tls"),
    };
    println!("cargo:rustc-env=SEQFIX_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=SEQFIX_TLS_BACKEND={tls}");
}
