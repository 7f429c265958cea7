//! The console `cavra serve` embeds is the checked-in `frontend/bundle/` (issue I §2). It must
//! be built from the sources in this checkout: `frontend/build.sh` records what it was built
//! from in `frontend/bundle/SOURCES` (`frontend/bundle-sources.sh`: the hash of every source
//! file of the console and of the workspace crates it compiles, every locked dependency, the
//! build profile), and this test lists the same again and fails on any difference.

use std::collections::BTreeSet;
use std::process::Command;

use cavra_e2e::emulator::repo_root;

fn lines(text: &str) -> BTreeSet<&str> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .collect()
}

#[test]
fn the_checked_in_console_bundle_is_built_from_these_sources() {
    let root = repo_root();
    let recorded = std::fs::read_to_string(root.join("frontend/bundle/SOURCES")).expect(
        "frontend/bundle/SOURCES exists: run `bash frontend/build.sh` and commit frontend/bundle/",
    );
    let output = Command::new("bash")
        .arg(root.join("frontend/bundle-sources.sh"))
        .current_dir(&root)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "bundle-sources.sh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let current = String::from_utf8(output.stdout).expect("the source list is UTF-8");
    let (recorded, current) = (lines(&recorded), lines(&current));
    assert!(
        current.iter().any(|line| line.starts_with("file ")) && current.len() > 50,
        "the source list looks empty: {current:?}"
    );
    let gone: Vec<&str> = recorded.difference(&current).copied().collect();
    let new: Vec<&str> = current.difference(&recorded).copied().collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "the checked-in console bundle is stale: run `bash frontend/build.sh` and commit \
         frontend/bundle/.\nrecorded but no longer true:\n  {}\nnow, not recorded:\n  {}",
        gone.join("\n  "),
        new.join("\n  "),
    );
}

#[test]
fn the_bundle_holds_exactly_what_its_page_loads() {
    let bundle = repo_root().join("frontend/bundle");
    let page = std::fs::read_to_string(bundle.join("index.html")).expect("the bundle has a page");
    let loaded: BTreeSet<String> = page
        .split(['"', '\''])
        .filter(|part| {
            part.starts_with('/') && [".js", ".wasm", ".css"].iter().any(|e| part.ends_with(e))
        })
        .map(|part| part.trim_start_matches('/').to_owned())
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(&bundle)
        .expect("the bundle folder reads")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "index.html" && name != "SOURCES")
        .collect();
    assert_eq!(
        loaded, present,
        "every file the page loads is in the bundle, and nothing else (a stale file from an \
         earlier build would be served too)"
    );
}
