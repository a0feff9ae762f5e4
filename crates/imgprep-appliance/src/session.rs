//! One appliance launch: the overlays added, the guest's filesystems mounted where the native
//! inspection says they are mounted, the instructions of a plan carried out, and a checked
//! shutdown.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imgprep_guestfs::{
    AbortHandle, CacheMode, DriveOptions, Event, Handle, LaunchOptions, RegType,
};

use imgprep_plan::Instr;
use imgprep_sysconf::{FileOp, Op, RegValue};

use crate::Error;

/// Largest content written with one `write` call (libguestfs's message limit is about 2 MiB);
/// larger files go through a temporary host file and `upload`.
const MAX_WRITE: usize = 1 << 20;

/// A launched appliance with the guest mounted.
pub struct Session {
    h: Handle,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// How to launch.
pub struct LaunchSpec<'a> {
    /// The qcow2 overlays to write, in disk order.
    pub disks: &'a [PathBuf],
    /// The guest's mounts: (mountable as libguestfs names it, guest path).
    pub mounts: &'a [(String, String)],
    /// The launch time limit.
    pub timeout: Duration,
    /// Where launch progress goes.
    pub progress: Box<dyn FnMut(&Event) + Send>,
    /// Called with the handle's abort handle before the launch starts, so a signal handler can
    /// stop it.
    pub on_abort_handle: &'a mut dyn FnMut(AbortHandle),
}

impl std::fmt::Debug for LaunchSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchSpec")
            .field("disks", &self.disks)
            .field("mounts", &self.mounts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Adds the disks (network off), launches within the time limit and mounts the guest.
    pub fn launch(spec: LaunchSpec<'_>) -> Result<Session, Error> {
        let mut h = Handle::new()?;
        (spec.on_abort_handle)(h.abort_handle());
        h.set_network(false)?;
        for d in spec.disks {
            // The overlays are scratch until imgprep has verified them: a host crash before then
            // loses nothing the user owns. So flushes from the guest (dpkg and rpm flush every
            // file they write) need not reach the host disk; the checked shutdown still writes
            // everything into the overlay, and imgprep syncs the output before renaming it in.
            h.add_drive(
                d,
                &DriveOptions {
                    format: Some("qcow2".into()),
                    cachemode: Some(CacheMode::Unsafe),
                    ..DriveOptions::default()
                },
            )?;
        }
        h.launch_with(
            LaunchOptions::new()
                .timeout(spec.timeout)
                .progress(spec.progress),
        )?;
        let mut mounts = spec.mounts.to_vec();
        // Parents before children: "/" first, then by depth.
        mounts.sort_by_key(|(_, path)| (path != "/", path.matches('/').count(), path.clone()));
        for (dev, path) in &mounts {
            h.mount(dev, path).map_err(|e| Error::Mount {
                device: dev.clone(),
                path: path.clone(),
                source: e,
            })?;
        }
        Ok(Session { h })
    }

    /// The handle, for checks a caller makes in the appliance.
    pub fn handle(&mut self) -> &mut Handle {
        &mut self.h
    }

    /// Carries out one instruction; returns a note for the report when it did something other
    /// than asked (a relabel left for the first boot).
    pub fn apply(&mut self, i: &Instr) -> Result<Option<String>, Error> {
        let h = &mut self.h;
        let at = |path: &str| {
            let path = path.to_owned();
            move |e| Error::Guest { path, source: e }
        };
        match i {
            Instr::File(op) => return self.file(op).map(|()| None),
            Instr::Upload {
                from,
                path,
                mode,
                uid,
                gid,
            } => {
                h.upload(from, path).map_err(at(path))?;
                h.chmod(*mode, path).map_err(at(path))?;
                h.lchown(*uid, *gid, path).map_err(at(path))?;
            }
            Instr::Unpack { bundle, prefix } => {
                // Validated again: the file may have changed since the plan was made.
                let b = imgprep_bundle::Bundle::open_plain(bundle, prefix)?;
                let tar = TempFile(std::env::temp_dir().join(format!(
                    "imgprep-bundle-{}-{}.tar",
                    std::process::id(),
                    b.entries.len()
                )));
                b.write_clean_tar(tar.path())?;
                h.tar_in(tar.path(), prefix, None).map_err(at(prefix))?;
            }
            Instr::Run { argv, .. } => {
                let args: Vec<&str> = argv.iter().map(String::as_str).collect();
                h.command(&args).map_err(|e| Error::Command {
                    argv: argv.join(" "),
                    source: e,
                })?;
            }
            Instr::Relabel { file_contexts } => {
                // The guest's policy must be there to label from; the appliance must have
                // setfiles. Otherwise the guest relabels itself at first boot.
                let policy = h.is_file(file_contexts).unwrap_or(false);
                let setfiles = h.feature_available(&["selinuxrelabel"]).unwrap_or(false);
                if policy && setfiles {
                    h.selinux_relabel(file_contexts, "/", false)
                        .map_err(at(file_contexts))?;
                    return Ok(Some(format!("SELinux labels set from {file_contexts}")));
                }
                h.touch("/.autorelabel").map_err(at("/.autorelabel"))?;
                let why = if policy {
                    "the appliance has no setfiles".to_owned()
                } else {
                    format!("the guest has no policy file {file_contexts}")
                };
                return Ok(Some(format!(
                    "SELinux labels are set at first boot (/.autorelabel): {why}"
                )));
            }
        }
        Ok(None)
    }

    fn file(&mut self, op: &FileOp) -> Result<(), Error> {
        let h = &mut self.h;
        let path = op.path.as_str();
        let at = |e| Error::Guest {
            path: path.to_owned(),
            source: e,
        };
        match &op.op {
            Op::Mkdir { mode, uid, gid } => {
                h.mkdir_p(path).map_err(at)?;
                h.chmod(*mode, path).map_err(at)?;
                h.lchown(*uid, *gid, path).map_err(at)?;
            }
            Op::Write {
                content,
                mode,
                uid,
                gid,
            } => {
                if content.len() <= MAX_WRITE {
                    h.write(path, content).map_err(at)?;
                } else {
                    let tmp = tempfile_with(content)?;
                    h.upload(tmp.path(), path).map_err(at)?;
                }
                h.chmod(*mode, path).map_err(at)?;
                h.lchown(*uid, *gid, path).map_err(at)?;
            }
            Op::Symlink { target } => h.ln_sf(target, path).map_err(at)?,
            Op::Remove => h.rm_f(path).map_err(at)?,
            Op::RegistrySet {
                hive,
                key,
                name,
                value,
            } => {
                registry(h, hive, key, |h, node| {
                    let (ty, bytes) = encode(value);
                    Ok(h.hivex_node_set_value(node, name, ty, &bytes)?)
                })?;
            }
            Op::RegistryDelete { hive, key, name } => {
                registry(h, hive, key, |h, node| match name {
                    Some(n) => delete_value(h, node, n),
                    None => Ok(h.hivex_node_delete_child(node)?),
                })?;
            }
        }
        Ok(())
    }

    /// Unmounts, shuts the appliance down and checks that everything was written back.
    pub fn finish(mut self) -> Result<(), Error> {
        self.h.umount_all()?;
        self.h.shutdown()?;
        Ok(())
    }
}

/// A temporary host file holding `content` (for uploads larger than one `write`).
fn tempfile_with(content: &[u8]) -> Result<TempFile, Error> {
    let path = std::env::temp_dir().join(format!(
        "imgprep-upload-{}-{}",
        std::process::id(),
        content.len()
    ));
    fs_err::write(&path, content).map_err(Error::Io)?;
    Ok(TempFile(path))
}

struct TempFile(PathBuf);

impl TempFile {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs_err::remove_file(&self.0);
    }
}

/// Opens `hive` for writing, walks (creating) `key`, runs `f` on the node, commits and closes.
fn registry(
    h: &mut Handle,
    hive: &str,
    key: &str,
    f: impl FnOnce(&mut Handle, imgprep_guestfs::HiveNode) -> Result<(), Error>,
) -> Result<(), Error> {
    let at = |e: Error| Error::Registry {
        hive: hive.to_owned(),
        key: key.to_owned(),
        source: Box::new(e),
    };
    h.hivex_open(hive, true).map_err(|e| at(e.into()))?;
    let result = (|| {
        let mut node = h.hivex_root()?;
        for part in key.split('\\').filter(|p| !p.is_empty()) {
            node = match h.hivex_node_get_child(node, part)? {
                Some(n) => n,
                None => h.hivex_node_add_child(node, part)?,
            };
        }
        f(h, node)?;
        Ok(h.hivex_commit(None)?)
    })();
    let closed = h.hivex_close();
    result.map_err(at)?;
    closed.map_err(|e| at(e.into()))
}

/// Most keys and values a key rebuilt by [`delete_value`] may hold (a bound on what is read
/// into memory; the keys such edits touch hold a handful).
const MAX_REBUILD_ITEMS: usize = 10_000;

/// A key read through hivex: its name, values and subkeys.
struct KeyTree {
    name: String,
    values: Vec<(String, RegType, Vec<u8>)>,
    children: Vec<KeyTree>,
}

fn snapshot(
    h: &mut Handle,
    node: imgprep_guestfs::HiveNode,
    budget: &mut usize,
) -> Result<KeyTree, Error> {
    let name = h.hivex_node_name(node)?;
    let mut values = Vec::new();
    for v in h.hivex_node_values(node)? {
        values.push((
            h.hivex_value_key(v)?,
            h.hivex_value_type(v)?,
            h.hivex_value_value(v)?,
        ));
    }
    *budget = budget.saturating_sub(1 + values.len());
    if *budget == 0 {
        return Err(Error::Refused(format!(
            "key {name:?} holds more than {MAX_REBUILD_ITEMS} keys and values: it is not \
             rebuilt to delete one value"
        )));
    }
    let mut children = Vec::new();
    for c in h.hivex_node_children(node)? {
        children.push(snapshot(h, c, budget)?);
    }
    Ok(KeyTree {
        name,
        values,
        children,
    })
}

fn rebuild(
    h: &mut Handle,
    parent: imgprep_guestfs::HiveNode,
    t: &KeyTree,
) -> imgprep_guestfs::Result<()> {
    let node = h.hivex_node_add_child(parent, &t.name)?;
    for (k, ty, v) in &t.values {
        h.hivex_node_set_value(node, k, *ty, v)?;
    }
    for c in &t.children {
        rebuild(h, node, c)?;
    }
    Ok(())
}

/// Removes value `name` of `node`. libguestfs's hivex calls can add and replace values but not
/// remove one, so the key is read whole (values and subkeys), deleted, and written again
/// without the value. Class names and security descriptors of the rebuilt keys are hivex's
/// defaults.
fn delete_value(h: &mut Handle, node: imgprep_guestfs::HiveNode, name: &str) -> Result<(), Error> {
    let values = h.hivex_node_values(node)?;
    let mut found = false;
    for v in values {
        found |= h.hivex_value_key(v)?.eq_ignore_ascii_case(name);
    }
    if !found {
        return Ok(());
    }
    let parent = h.hivex_node_parent(node)?;
    let mut budget = MAX_REBUILD_ITEMS;
    let mut tree = snapshot(h, node, &mut budget)?;
    tree.values
        .retain(|(k, _, _)| !k.eq_ignore_ascii_case(name));
    h.hivex_node_delete_child(node)?;
    Ok(rebuild(h, parent, &tree)?)
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// The registry type and bytes of a value, NUL-terminated strings included.
fn encode(v: &RegValue) -> (RegType, Vec<u8>) {
    match v {
        RegValue::Sz(s) => (RegType(1), utf16z(s)),
        RegValue::ExpandSz(s) => (RegType(2), utf16z(s)),
        RegValue::MultiSz(items) => {
            let mut b: Vec<u8> = items.iter().flat_map(|s| utf16z(s)).collect();
            b.extend([0, 0]);
            (RegType(7), b)
        }
        RegValue::Dword(n) => (RegType(4), n.to_le_bytes().to_vec()),
        RegValue::Qword(n) => (RegType(11), n.to_le_bytes().to_vec()),
        RegValue::Binary(b) => (RegType(3), b.clone()),
    }
}
