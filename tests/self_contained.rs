//! The repository stands alone: nothing in it (test, script, binding or doc)
//! refers to a reference folder beside it. CI's clone has such a folder next
//! to it, so a leftover path would pass there and fail for a user who clones
//! dyag anywhere else; this test reads every text file of the tree instead.
//! (`scripts/test-isolated.sh` also runs the reference tests from a clone with
//! nothing beside it.)

use std::path::{Path, PathBuf};

/// Folders that are built, downloaded or generated, never committed.
const SKIPPED: [&str; 4] = ["target", "runs", "models", ".git"];

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            // .venv-*, .cuda-nvrtc: set-up outputs (gitignored).
            let setup_output = name.starts_with(".venv") || name.starts_with(".cuda");
            if !(SKIPPED.contains(&name.as_str()) || setup_output) {
                text_files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_refers_to_a_folder_beside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Written in pieces so that this file does not match itself.
    let needles =
        [["..", "/shared"].concat(), ["shared", "/fixtures"].concat(), ["shared", "/refs"].concat(), ["shared", "/seeds"].concat()];
    let mut files = Vec::new();
    text_files(root, &mut files);
    assert!(files.len() > 100, "walked only {} files under {}", files.len(), root.display());
    let mut offenders = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else { continue }; // binary
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n.as_str())) {
                offenders.push(format!("{}:{}: {}", file.strip_prefix(root).unwrap().display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "files that refer to a folder beside the repository (vendor the data in tests/data):\n{}",
        offenders.join("\n")
    );
}
