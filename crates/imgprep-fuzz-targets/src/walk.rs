//! A bounded walk of a filesystem from its root that lists directories, stats every entry,
//! reads every link and reads files at the start, the middle and near the end. Shared by the
//! fs_* targets.

use imgprep_fs::{FileKind, Filesystem};

/// Walks `fs`, visiting at most `entries` directory entries and listing at most `dirs`
/// directories (loops and hard-linked directories make a tree reachable under many names);
/// `extra` runs on every path before it is stat'ed.
pub(crate) fn walk(
    fs: &dyn Filesystem,
    entries: usize,
    dirs: usize,
    mut extra: impl FnMut(&dyn Filesystem, &[u8]),
) {
    let mut stack = vec![b"/".to_vec()];
    let (mut seen, mut listed) = (0, 0);
    while let Some(dir) = stack.pop() {
        listed += 1;
        if listed > dirs {
            return;
        }
        let Ok(list) = fs.read_dir(&dir) else {
            continue;
        };
        for e in list {
            seen += 1;
            if seen > entries {
                return;
            }
            if e.name.contains(&b'/') || e.name == b"." || e.name == b".." || e.name.is_empty() {
                continue;
            }
            let mut p = dir.clone();
            if p.len() > 1 {
                p.push(b'/');
            }
            p.extend_from_slice(&e.name);
            // Each lookup costs one step per component: keep walks shallow.
            if p.len() > 512 || p.iter().filter(|&&c| c == b'/').count() > 24 {
                continue;
            }
            extra(fs, &p);
            let Ok(Some(m)) = fs.lstat(&p) else { continue };
            match m.kind {
                FileKind::Dir => stack.push(p),
                FileKind::File => {
                    let _ = fs.read(&p, 0, 1 << 16);
                    let _ = fs.read(&p, m.size / 2, 1 << 12);
                    let _ = fs.read(&p, m.size.saturating_sub(5000), 1 << 13);
                }
                FileKind::Symlink => drop(fs.read_link(&p)),
                _ => {}
            }
        }
    }
}
