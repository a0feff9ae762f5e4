//! The handle and its calls.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Instant, SystemTime};

use libguestfs_sys as sys;

use crate::error::{Error, Result};
use crate::events::{self, EventState};
use crate::ffi::{
    argv, borrowed_string, cstring, path_cstring, take_bytes, take_string, take_strings,
};
use crate::launch::{self, AbortHandle, LaunchOptions, Shared};
use crate::optargs;

/// One libguestfs handle: configure, [`Handle::launch_with`], call, [`Handle::shutdown`].
///
/// `Send` (it may move between threads between calls) but not `Sync`: libguestfs handles are not
/// to be used from two threads at once, and every call takes `&mut self`. Dropping the handle
/// closes it (`guestfs_close`, which kills the appliance and ignores errors): call and check
/// [`Handle::shutdown`] first whenever something was written.
///
/// ```compile_fail
/// fn shared_between_threads<T: Sync>() {}
/// shared_between_threads::<imgprep_guestfs::Handle>();
/// ```
pub struct Handle {
    g: NonNull<sys::guestfs_h>,
    /// What the event callback sees; freed in `drop`, after `guestfs_close`.
    events: NonNull<RefCell<EventState>>,
    shared: Arc<Shared>,
    /// Host paths of the drives added, for the launch log.
    drives: Vec<PathBuf>,
    /// Where launches are logged.
    launch_log: Option<PathBuf>,
    /// The thread whose libguestfs error handler was last removed (see `g`).
    quiet_thread: ThreadId,
}

// SAFETY: libguestfs allows a handle to be used from any thread as long as calls do not overlap
// (its error state and error handler are per thread: errors are read right after each call on
// the same thread, and `g()` removes the handler on each new thread). `&mut self` on every call
// and the absence of `Sync` keep calls from overlapping. The event state holds only
// `Send` data and is reached by the callback only during a call, on the calling thread.
unsafe impl Send for Handle {}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("drives", &self.drives)
            .finish_non_exhaustive()
    }
}

/// How qemu caches a drive (`cachemode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheMode {
    /// Writes reach the disk file before a flush returns (libguestfs's default).
    Writeback,
    /// Flushes are ignored: faster, but a crash of the host loses data. Only for scratch disks.
    Unsafe,
}

/// Whether discard (trim) requests reach the disk file (`discard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discard {
    /// Never (libguestfs's default).
    Disable,
    /// Always; the launch fails where the format or qemu cannot.
    Enable,
    /// Where possible.
    BestEffort,
}

/// Options of [`Handle::add_drive`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriveOptions {
    /// The disk format (`qcow2`, `raw`, `vmdk`, `vpc`, `vhdx`). Give it: libguestfs would
    /// otherwise let qemu probe it, which is unsafe for raw images.
    pub format: Option<String>,
    /// Add the drive read-only: writes go to a throw-away overlay.
    pub readonly: bool,
    /// qemu's cache mode.
    pub cachemode: Option<CacheMode>,
    /// Discard requests.
    pub discard: Option<Discard>,
}

/// Compression of an archive given to [`Handle::tar_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TarCompress {
    /// `compress` (.Z).
    Compress,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
    /// lzop.
    Lzop,
}

impl TarCompress {
    fn as_cstr(self) -> &'static CStr {
        match self {
            TarCompress::Compress => c"compress",
            TarCompress::Gzip => c"gzip",
            TarCompress::Bzip2 => c"bzip2",
            TarCompress::Xz => c"xz",
            TarCompress::Lzop => c"lzop",
        }
    }
}

/// What [`Handle::lstat`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// File type and permission bits, as in `st_mode`.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
}

impl Stat {
    /// The permission bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// True for a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
}

impl Handle {
    /// A new handle in the configuration state, with the `LIBGUESTFS_*` environment variables
    /// applied (`LIBGUESTFS_BACKEND_SETTINGS=force_tcg` among them), libguestfs's error handler
    /// removed, and qemu in its own process group (a terminal's Ctrl-C reaches imgprep, which
    /// decides, instead of killing the appliance behind its back).
    pub fn new() -> Result<Handle> {
        // SAFETY: guestfs_create_flags takes a flags word and no further arguments for these
        // flags. NO_ENVIRONMENT defers parsing the environment until the error handler is
        // replaced, so a bad variable is returned as an error instead of printed.
        let g = unsafe { sys::guestfs_create_flags(sys::GUESTFS_CREATE_NO_ENVIRONMENT) };
        let Some(g) = NonNull::new(g) else {
            return Err(Error::Create {
                message: std::io::Error::last_os_error().to_string(),
            });
        };
        // SAFETY: `g` is a live handle. A NULL handler makes libguestfs only record errors (for
        // guestfs_last_error) instead of printing them.
        unsafe { sys::guestfs_set_error_handler(g.as_ptr(), None, std::ptr::null_mut()) };
        let events = NonNull::from(Box::leak(Box::new(RefCell::new(EventState::default()))));
        // From here `Drop` closes the handle and frees the event state.
        let mut handle = Handle {
            g,
            events,
            shared: Arc::new(Shared::default()),
            drives: Vec::new(),
            launch_log: launch::launch_log_from_env(),
            quiet_thread: std::thread::current().id(),
        };
        // SAFETY: `g` is live; the callback matches `guestfs_event_callback`; `opaque` is the
        // event state, which stays allocated until after guestfs_close (see Drop), the last
        // moment libguestfs can call back.
        let r = unsafe {
            sys::guestfs_set_event_callback(
                g.as_ptr(),
                Some(events::callback),
                events::EVENT_MASK,
                0,
                events.as_ptr().cast(),
            )
        };
        handle.check("set_event_callback", r)?;
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_parse_environment(g.as_ptr()) };
        handle.check("parse_environment", r)?;
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_set_pgroup(g.as_ptr(), 1) };
        handle.check("set_pgroup", r)?;
        Ok(handle)
    }

    /// The raw handle, for a call about to be made on this thread.
    ///
    /// libguestfs keeps error handlers (like errors) per thread: on a thread that never removed
    /// it, the default handler prints to stderr. So the first call of a handle on each new
    /// thread removes it there.
    pub(crate) fn g(&mut self) -> *mut sys::guestfs_h {
        let here = std::thread::current().id();
        if self.quiet_thread != here {
            // SAFETY: `g` is live; a NULL handler only records errors.
            unsafe { sys::guestfs_set_error_handler(self.g.as_ptr(), None, std::ptr::null_mut()) };
            self.quiet_thread = here;
        }
        self.g.as_ptr()
    }

    /// The error of the call that just failed on this thread, named `call`.
    pub(crate) fn error(&mut self, call: &'static str) -> Error {
        if self.shared.aborted() {
            return Error::Aborted { call };
        }
        let g = self.g();
        // SAFETY: `g` is live; the returned string (or NULL) is owned by the handle and valid
        // until the next call, and is copied at once.
        let message = unsafe { borrowed_string(sys::guestfs_last_error(g)) }
            .unwrap_or_else(|| "failed without an error message".to_owned());
        // SAFETY: `g` is live.
        let errno = unsafe { sys::guestfs_last_errno(g) };
        Error::Call {
            call,
            message,
            errno: (errno != 0).then_some(errno),
        }
    }

    /// `r` of a call returning `int`: -1 is an error.
    pub(crate) fn check(&mut self, call: &'static str, r: c_int) -> Result<()> {
        if r == -1 {
            Err(self.error(call))
        } else {
            Ok(())
        }
    }

    /// `r` of a call returning a boolean `int`: -1 error, 0 false, otherwise true.
    pub(crate) fn check_bool(&mut self, call: &'static str, r: c_int) -> Result<bool> {
        self.check(call, r)?;
        Ok(r != 0)
    }

    /// An owned string a call returned (NULL is an error).
    pub(crate) fn string(&mut self, call: &'static str, p: *mut c_char) -> Result<String> {
        // SAFETY: `p` comes straight from a libguestfs call returning a caller-owned,
        // malloc'd string or NULL; nothing else holds it.
        unsafe { take_string(p) }.ok_or_else(|| self.error(call))
    }

    /// An owned string list a call returned (NULL is an error).
    pub(crate) fn strings(
        &mut self,
        call: &'static str,
        p: *mut *mut c_char,
    ) -> Result<Vec<String>> {
        // SAFETY: `p` comes straight from a libguestfs call returning a caller-owned, malloc'd,
        // NULL-terminated list of malloc'd strings, or NULL; nothing else holds it.
        unsafe { take_strings(p) }.ok_or_else(|| self.error(call))
    }

    /// A handle on which another thread can stop this handle's appliance.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Where this handle's launches are logged: by default the file named by
    /// `IMGPREP_GUESTFS_LAUNCH_LOG` when the handle was created; `None` logs nothing.
    pub fn set_launch_log(&mut self, file: Option<PathBuf>) {
        self.launch_log = file;
    }

    /// The launch log in use (see [`Handle::set_launch_log`]).
    pub fn launch_log(&self) -> Option<&Path> {
        self.launch_log.as_deref()
    }

    /// The warnings libguestfs gave since the last call of this (at most 100 are kept).
    pub fn take_warnings(&mut self) -> Vec<String> {
        // SAFETY: the event state lives as long as the handle; the callback only runs during a
        // libguestfs call, and none is running while we hold `&mut self`.
        let state = unsafe { self.events.as_ref() };
        std::mem::take(&mut state.borrow_mut().warnings)
    }

    // ---- configuration --------------------------------------------------------------------

    /// Adds a disk image (before launch). Drives appear in the appliance as `/dev/sda`,
    /// `/dev/sdb`, … in the order added.
    pub fn add_drive(&mut self, path: &Path, opts: &DriveOptions) -> Result<()> {
        const CALL: &str = "add_drive";
        let filename = path_cstring(CALL, "filename", path)?;
        let format = opts
            .format
            .as_deref()
            .map(|f| cstring(CALL, "format", f.as_bytes()))
            .transpose()?;
        // SAFETY: the struct is plain data; all-zero (NULL pointers, bitmask 0) is its empty
        // value, and only fields whose bit is set below are read by libguestfs.
        let mut o: sys::guestfs_add_drive_opts_argv = unsafe { std::mem::zeroed() };
        o.bitmask |= optargs::ADD_DRIVE_OPTS_READONLY_BITMASK;
        o.readonly = c_int::from(opts.readonly);
        if let Some(format) = &format {
            o.bitmask |= optargs::ADD_DRIVE_OPTS_FORMAT_BITMASK;
            o.format = format.as_ptr();
        }
        if let Some(mode) = opts.cachemode {
            o.bitmask |= optargs::ADD_DRIVE_OPTS_CACHEMODE_BITMASK;
            o.cachemode = match mode {
                CacheMode::Writeback => c"writeback",
                CacheMode::Unsafe => c"unsafe",
            }
            .as_ptr();
        }
        if let Some(discard) = opts.discard {
            o.bitmask |= optargs::ADD_DRIVE_OPTS_DISCARD_BITMASK;
            o.discard = match discard {
                Discard::Disable => c"disable",
                Discard::Enable => c"enable",
                Discard::BestEffort => c"besteffort",
            }
            .as_ptr();
        }
        let g = self.g();
        // SAFETY: `g` is live; `filename`, `format` and the static strings outlive the call;
        // libguestfs copies what it keeps.
        let r = unsafe { sys::guestfs_add_drive_opts_argv(g, filename.as_ptr(), &o) };
        self.check(CALL, r)?;
        self.drives.push(path.to_owned());
        Ok(())
    }

    /// Enables or disables the appliance's network (before launch; libguestfs's default is off).
    pub fn set_network(&mut self, network: bool) -> Result<()> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_set_network(g, c_int::from(network)) };
        self.check("set_network", r)
    }

    /// The appliance's memory in MiB (before launch).
    pub fn set_memsize(&mut self, mib: u32) -> Result<()> {
        let mib = int_arg("set_memsize", "memsize", mib.into())?;
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_set_memsize(g, mib) };
        self.check("set_memsize", r)
    }

    /// The appliance's virtual CPUs (before launch).
    pub fn set_smp(&mut self, cpus: u32) -> Result<()> {
        let cpus = int_arg("set_smp", "smp", cpus.into())?;
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_set_smp(g, cpus) };
        self.check("set_smp", r)
    }

    /// Debug output: the appliance's console and libguestfs's messages become
    /// [`crate::Event::Appliance`] and [`crate::Event::Library`] events (never stderr).
    pub fn set_verbose(&mut self, verbose: bool) -> Result<()> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_set_verbose(g, c_int::from(verbose)) };
        self.check("set_verbose", r)
    }

    /// Whether libguestfs syncs and unmounts before shutting the appliance down. Always true:
    /// this wrapper never turns it off.
    pub fn autosync(&mut self) -> Result<bool> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_get_autosync(g) };
        self.check_bool("get_autosync", r)
    }

    /// The backend libguestfs will use (`direct`, `libvirt`, …).
    pub fn backend(&mut self) -> Result<String> {
        let g = self.g();
        // SAFETY: `g` is live.
        let p = unsafe { sys::guestfs_get_backend(g) };
        self.string("get_backend", p)
    }

    /// Creates a disk image on the host. With `backing` (file and its format), the new image
    /// is an overlay of it (give `size` `None` to take the backing file's size).
    pub fn disk_create(
        &mut self,
        path: &Path,
        format: &str,
        size: Option<u64>,
        backing: Option<(&Path, &str)>,
    ) -> Result<()> {
        const CALL: &str = "disk_create";
        let filename = path_cstring(CALL, "filename", path)?;
        let format = cstring(CALL, "format", format.as_bytes())?;
        let size = match size {
            None => -1,
            Some(s) => i64::try_from(s).map_err(|_| Error::OutOfRange {
                call: CALL,
                arg: "size",
                value: s,
                expected: "at most 2^63-1",
            })?,
        };
        let backing = backing
            .map(|(file, fmt)| {
                Ok::<_, Error>((
                    path_cstring(CALL, "backingfile", file)?,
                    cstring(CALL, "backingformat", fmt.as_bytes())?,
                ))
            })
            .transpose()?;
        // SAFETY: plain data; all-zero is the empty value (see add_drive).
        let mut o: sys::guestfs_disk_create_argv = unsafe { std::mem::zeroed() };
        if let Some((file, fmt)) = &backing {
            o.bitmask |= optargs::DISK_CREATE_BACKINGFILE_BITMASK
                | optargs::DISK_CREATE_BACKINGFORMAT_BITMASK;
            o.backingfile = file.as_ptr();
            o.backingformat = fmt.as_ptr();
        }
        let g = self.g();
        // SAFETY: `g` is live; every string outlives the call.
        let r = unsafe {
            sys::guestfs_disk_create_argv(g, filename.as_ptr(), format.as_ptr(), size, &o)
        };
        self.check(CALL, r)
    }

    // ---- launch and shutdown --------------------------------------------------------------

    /// Starts the appliance with [`crate::DEFAULT_LAUNCH_TIMEOUT`] and no progress closure.
    pub fn launch(&mut self) -> Result<()> {
        self.launch_with(LaunchOptions::new())
    }

    /// Starts the appliance, bounded by `opts`'s timeout: when it passes (or
    /// [`AbortHandle::abort`] is called) the appliance's qemu is killed, libguestfs returns, and
    /// this returns [`Error::LaunchTimeout`] (or [`Error::Aborted`]); the handle can then be
    /// dropped cleanly. Appends a line to the launch log (see the crate documentation).
    pub fn launch_with(&mut self, opts: LaunchOptions) -> Result<()> {
        const CALL: &str = "launch";
        let token = launch::new_token();
        let g = self.g();
        // SAFETY: `g` is live; the result is NULL (no extra kernel arguments) or a string owned
        // by the handle, copied at once, before any other call.
        let current = unsafe { borrowed_string(sys::guestfs_get_append(g)) };
        let append = launch::append_token(current.as_deref(), &token);
        let append = cstring("set_append", "append", append.as_bytes())?;
        // SAFETY: `g` is live; libguestfs copies the string.
        let r = unsafe { sys::guestfs_set_append(g, append.as_ptr()) };
        self.check("set_append", r)?;
        let LaunchOptions { timeout, progress } = opts;
        self.with_events(|st| st.progress = progress);
        let shared = Arc::clone(&self.shared);
        if !shared.begin(&token) {
            self.with_events(|st| st.progress = None);
            return Err(Error::Aborted { call: CALL });
        }
        let started = SystemTime::now();
        let clock = Instant::now();
        let (r, watchdog) = std::thread::scope(|s| {
            let watchdog = std::thread::Builder::new()
                .name("guestfs-launch-watchdog".into())
                .spawn_scoped(s, || shared.watch(timeout));
            let r = match &watchdog {
                // SAFETY: `g` is live and used by this thread only; the watchdog thread never
                // touches the handle, it only kills processes.
                Ok(_) => unsafe { sys::guestfs_launch(g) },
                Err(_) => -1,
            };
            shared.end();
            (r, watchdog.map(|w| w.join().unwrap_or(false)))
        });
        let took = clock.elapsed();
        let timed_out = match watchdog {
            Ok(timed_out) => timed_out,
            Err(e) => {
                // Nothing was launched.
                self.with_events(|st| st.progress = None);
                return Err(Error::Unexpected {
                    call: CALL,
                    what: format!("could not start the watchdog thread: {e}"),
                });
            }
        };
        let result = if timed_out {
            Err(match self.error(CALL) {
                Error::Call { message, .. } => Error::LaunchTimeout { timeout, message },
                e => e,
            })
        } else if r == -1 || self.shared.aborted() {
            Err(self.error(CALL))
        } else {
            Ok(())
        };
        let panic = self.with_events(|st| {
            st.progress = None;
            st.panic.take()
        });
        if let Some(log) = self.launch_log.clone()
            && let Err(e) = launch::log_launch(&log, started, took, result.is_ok(), &self.drives)
        {
            self.with_events(|st| {
                st.warnings
                    .push(format!("could not append to the launch log: {e}"))
            });
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
        result
    }

    fn with_events<T>(&mut self, f: impl FnOnce(&mut EventState) -> T) -> T {
        // SAFETY: see take_warnings: no libguestfs call is running while we hold `&mut self`.
        let state = unsafe { self.events.as_ref() };
        f(&mut state.borrow_mut())
    }

    /// Syncs, unmounts (autosync) and stops the appliance, and reports whether all of it
    /// succeeded, qemu's exit included. Data written is safe on the host only once this
    /// returned `Ok`. The handle returns to the configuration state without drives.
    pub fn shutdown(&mut self) -> Result<()> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_shutdown(g) };
        self.drives.clear();
        self.check("shutdown", r)
    }

    /// Flushes the guest's filesystems to the disk images.
    pub fn sync(&mut self) -> Result<()> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_sync(g) };
        self.check("sync", r)
    }

    // ---- devices and mounts ---------------------------------------------------------------

    /// The block devices (`/dev/sda`, …).
    pub fn list_devices(&mut self) -> Result<Vec<String>> {
        let g = self.g();
        // SAFETY: `g` is live.
        let p = unsafe { sys::guestfs_list_devices(g) };
        self.strings("list_devices", p)
    }

    /// The filesystems libguestfs finds, as (mountable, type) pairs.
    pub fn list_filesystems(&mut self) -> Result<Vec<(String, String)>> {
        const CALL: &str = "list_filesystems";
        let g = self.g();
        // SAFETY: `g` is live.
        let p = unsafe { sys::guestfs_list_filesystems(g) };
        let flat = self.strings(CALL, p)?;
        if flat.len() % 2 != 0 {
            return Err(Error::Unexpected {
                call: CALL,
                what: format!("{} strings, expected pairs", flat.len()),
            });
        }
        let mut it = flat.into_iter();
        let mut pairs = Vec::new();
        while let (Some(dev), Some(ty)) = (it.next(), it.next()) {
            pairs.push((dev, ty));
        }
        Ok(pairs)
    }

    /// Mounts `mountable` at `mountpoint` in the appliance, read-write.
    pub fn mount(&mut self, mountable: &str, mountpoint: &str) -> Result<()> {
        self.two_strings(
            "mount",
            "mountable",
            mountable,
            "mountpoint",
            mountpoint,
            |g, a, b| {
                // SAFETY: called with a live handle and two valid C strings (see two_strings).
                unsafe { sys::guestfs_mount(g, a, b) }
            },
        )
    }

    /// Mounts `mountable` at `mountpoint` read-only.
    pub fn mount_ro(&mut self, mountable: &str, mountpoint: &str) -> Result<()> {
        self.two_strings(
            "mount_ro",
            "mountable",
            mountable,
            "mountpoint",
            mountpoint,
            |g, a, b| {
                // SAFETY: called with a live handle and two valid C strings (see two_strings).
                unsafe { sys::guestfs_mount_ro(g, a, b) }
            },
        )
    }

    /// Unmounts everything.
    pub fn umount_all(&mut self) -> Result<()> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_umount_all(g) };
        self.check("umount_all", r)
    }

    // ---- files ----------------------------------------------------------------------------

    /// Runs `f` with the handle and `s` as a C string, checking its `int` result.
    fn one_string(
        &mut self,
        call: &'static str,
        arg: &'static str,
        s: &str,
        f: impl FnOnce(*mut sys::guestfs_h, *const c_char) -> c_int,
    ) -> Result<c_int> {
        let s = cstring(call, arg, s.as_bytes())?;
        let g = self.g();
        let r = f(g, s.as_ptr());
        self.check(call, r)?;
        Ok(r)
    }

    /// Runs `f` with the handle and two C strings, checking its `int` result.
    fn two_strings(
        &mut self,
        call: &'static str,
        arg_a: &'static str,
        a: &str,
        arg_b: &'static str,
        b: &str,
        f: impl FnOnce(*mut sys::guestfs_h, *const c_char, *const c_char) -> c_int,
    ) -> Result<()> {
        let a = cstring(call, arg_a, a.as_bytes())?;
        let b = cstring(call, arg_b, b.as_bytes())?;
        let g = self.g();
        let r = f(g, a.as_ptr(), b.as_ptr());
        self.check(call, r)
    }

    /// `mkdir -p`.
    pub fn mkdir_p(&mut self, path: &str) -> Result<()> {
        self.one_string("mkdir_p", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_mkdir_p(g, p) }
        })
        .map(drop)
    }

    /// Creates or replaces the file `path` with `content` (any bytes, NULs included). One
    /// message to the appliance: keep it under 2 MiB, use [`Handle::upload`] for more.
    pub fn write(&mut self, path: &str, content: &[u8]) -> Result<()> {
        const CALL: &str = "write";
        let path = cstring(CALL, "path", path.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; `content` is `content.len()` readable bytes, NULs allowed (the
        // length is passed, not a terminator).
        let r =
            unsafe { sys::guestfs_write(g, path.as_ptr(), content.as_ptr().cast(), content.len()) };
        self.check(CALL, r)
    }

    /// Copies the host file `from` to the guest path `to`.
    pub fn upload(&mut self, from: &Path, to: &str) -> Result<()> {
        const CALL: &str = "upload";
        let from = path_cstring(CALL, "filename", from)?;
        let to = cstring(CALL, "remotefilename", to.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; both strings outlive the call.
        let r = unsafe { sys::guestfs_upload(g, from.as_ptr(), to.as_ptr()) };
        self.check(CALL, r)
    }

    /// Copies the guest file `from` to the host path `to`.
    pub fn download(&mut self, from: &str, to: &Path) -> Result<()> {
        const CALL: &str = "download";
        let from = cstring(CALL, "remotefilename", from.as_bytes())?;
        let to = path_cstring(CALL, "filename", to)?;
        let g = self.g();
        // SAFETY: `g` is live; both strings outlive the call.
        let r = unsafe { sys::guestfs_download(g, from.as_ptr(), to.as_ptr()) };
        self.check(CALL, r)
    }

    /// The contents of the guest file `path`.
    pub fn read_file(&mut self, path: &str) -> Result<Vec<u8>> {
        const CALL: &str = "read_file";
        let path = cstring(CALL, "path", path.as_bytes())?;
        let g = self.g();
        let mut size = 0usize;
        // SAFETY: `g` is live; `size` is a valid out-pointer for the length.
        let p = unsafe { sys::guestfs_read_file(g, path.as_ptr(), &mut size) };
        // SAFETY: on success libguestfs returns a caller-owned malloc'd buffer of `size` bytes.
        unsafe { take_bytes(p, size) }.ok_or_else(|| self.error(CALL))
    }

    /// `chmod` (permission bits only, up to `0o7777`).
    pub fn chmod(&mut self, mode: u32, path: &str) -> Result<()> {
        const CALL: &str = "chmod";
        if mode > 0o7777 {
            return Err(Error::OutOfRange {
                call: CALL,
                arg: "mode",
                value: mode.into(),
                expected: "at most 0o7777",
            });
        }
        let mode = int_arg(CALL, "mode", mode.into())?;
        self.one_string(CALL, "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_chmod(g, mode, p) }
        })
        .map(drop)
    }

    /// `lchown` with numeric ids (a symbolic link itself, not its target).
    pub fn lchown(&mut self, uid: u32, gid: u32, path: &str) -> Result<()> {
        const CALL: &str = "lchown";
        let uid = int_arg(CALL, "owner", uid.into())?;
        let gid = int_arg(CALL, "group", gid.into())?;
        self.one_string(CALL, "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_lchown(g, uid, gid, p) }
        })
        .map(drop)
    }

    /// `ln -sf target linkname`.
    pub fn ln_sf(&mut self, target: &str, linkname: &str) -> Result<()> {
        self.two_strings(
            "ln_sf",
            "target",
            target,
            "linkname",
            linkname,
            |g, a, b| {
                // SAFETY: a live handle and two valid C strings (see two_strings).
                unsafe { sys::guestfs_ln_sf(g, a, b) }
            },
        )
    }

    /// `rm` of one file; an error when it does not exist.
    pub fn rm(&mut self, path: &str) -> Result<()> {
        self.one_string("rm", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_rm(g, p) }
        })
        .map(drop)
    }

    /// `rm -f`: no error when it does not exist.
    pub fn rm_f(&mut self, path: &str) -> Result<()> {
        self.one_string("rm_f", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_rm_f(g, p) }
        })
        .map(drop)
    }

    /// `touch`.
    pub fn touch(&mut self, path: &str) -> Result<()> {
        self.one_string("touch", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_touch(g, p) }
        })
        .map(drop)
    }

    /// True when `path` itself is a regular file (a symlink to one is not).
    pub fn is_file(&mut self, path: &str) -> Result<bool> {
        self.one_string("is_file", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_is_file(g, p) }
        })
        .map(|r| r != 0)
    }

    /// True when `path` itself is a directory (a symlink to one is not).
    pub fn is_dir(&mut self, path: &str) -> Result<bool> {
        self.one_string("is_dir", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_is_dir(g, p) }
        })
        .map(|r| r != 0)
    }

    /// True when `path` exists (following symlinks).
    pub fn exists(&mut self, path: &str) -> Result<bool> {
        self.one_string("exists", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_exists(g, p) }
        })
        .map(|r| r != 0)
    }

    /// Metadata of `path`, not following a final symlink.
    pub fn lstat(&mut self, path: &str) -> Result<Stat> {
        const CALL: &str = "lstatns";
        let path = cstring(CALL, "path", path.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call.
        let p = unsafe { sys::guestfs_lstatns(g, path.as_ptr()) };
        if p.is_null() {
            return Err(self.error(CALL));
        }
        // SAFETY: non-NULL: a caller-owned struct; copied, then freed once with the matching
        // free function.
        let st = unsafe {
            let st = *p;
            sys::guestfs_free_statns(p);
            st
        };
        let field = |what: &str, v: i64| {
            u32::try_from(v).map_err(|_| Error::Unexpected {
                call: CALL,
                what: format!("{what} {v}"),
            })
        };
        Ok(Stat {
            mode: field("st_mode", st.st_mode)?,
            uid: field("st_uid", st.st_uid)?,
            gid: field("st_gid", st.st_gid)?,
            size: u64::try_from(st.st_size).map_err(|_| Error::Unexpected {
                call: CALL,
                what: format!("st_size {}", st.st_size),
            })?,
        })
    }

    /// The target of the symbolic link `path`, as stored (any bytes).
    pub fn readlink(&mut self, path: &str) -> Result<Vec<u8>> {
        const CALL: &str = "readlink";
        let path = cstring(CALL, "path", path.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call.
        let p = unsafe { sys::guestfs_readlink(g, path.as_ptr()) };
        if p.is_null() {
            return Err(self.error(CALL));
        }
        // SAFETY: non-NULL: a caller-owned malloc'd NUL-terminated string, copied then freed.
        let target = unsafe {
            let t = CStr::from_ptr(p).to_bytes().to_vec();
            libc::free(p.cast());
            t
        };
        Ok(target)
    }

    /// Unpacks the host archive `tarfile` into the guest directory `dir`. Owners are looked up
    /// by name in the appliance (not the guest), so build archives with numeric owners only
    /// (`tar --numeric-owner`, or empty user and group names).
    pub fn tar_in(
        &mut self,
        tarfile: &Path,
        dir: &str,
        compress: Option<TarCompress>,
    ) -> Result<()> {
        const CALL: &str = "tar_in";
        let tarfile = path_cstring(CALL, "tarfile", tarfile)?;
        let dir = cstring(CALL, "directory", dir.as_bytes())?;
        // SAFETY: plain data; all-zero is the empty value (see add_drive).
        let mut o: sys::guestfs_tar_in_opts_argv = unsafe { std::mem::zeroed() };
        if let Some(c) = compress {
            o.bitmask |= optargs::TAR_IN_OPTS_COMPRESS_BITMASK;
            o.compress = c.as_cstr().as_ptr();
        }
        let g = self.g();
        // SAFETY: `g` is live; the strings outlive the call.
        let r = unsafe { sys::guestfs_tar_in_opts_argv(g, tarfile.as_ptr(), dir.as_ptr(), &o) };
        self.check(CALL, r)
    }

    /// Packs the guest directory `dir` into the host archive `tarfile` (uncompressed unless
    /// `compress` says otherwise). Owners are numeric (the guest's ids, not names looked up in
    /// the appliance); `excludes` are tar `--exclude` patterns, matched against member names.
    pub fn tar_out(
        &mut self,
        dir: &str,
        tarfile: &Path,
        compress: Option<TarCompress>,
        excludes: &[&str],
    ) -> Result<()> {
        const CALL: &str = "tar_out";
        let dir = cstring(CALL, "directory", dir.as_bytes())?;
        let tarfile = path_cstring(CALL, "tarfile", tarfile)?;
        let excludes = excludes
            .iter()
            .map(|e| cstring(CALL, "excludes", e.as_bytes()))
            .collect::<Result<Vec<CString>>>()?;
        let excludes_v = argv(&excludes);
        // SAFETY: plain data; all-zero is the empty value (see add_drive).
        let mut o: sys::guestfs_tar_out_opts_argv = unsafe { std::mem::zeroed() };
        o.bitmask |= optargs::TAR_OUT_OPTS_NUMERICOWNER_BITMASK;
        o.numericowner = 1;
        if let Some(c) = compress {
            o.bitmask |= optargs::TAR_OUT_OPTS_COMPRESS_BITMASK;
            o.compress = c.as_cstr().as_ptr();
        }
        if !excludes.is_empty() {
            o.bitmask |= optargs::TAR_OUT_OPTS_EXCLUDES_BITMASK;
            o.excludes = excludes_v.as_ptr();
        }
        let g = self.g();
        // SAFETY: `g` is live; the strings, the excludes array and the strings it points to
        // outlive the call; libguestfs does not write through them.
        let r = unsafe { sys::guestfs_tar_out_opts_argv(g, dir.as_ptr(), tarfile.as_ptr(), &o) };
        self.check(CALL, r)
    }

    /// `rm -rf`: removes `path` and everything below it; nothing when it does not exist.
    pub fn rm_rf(&mut self, path: &str) -> Result<()> {
        self.one_string("rm_rf", "path", path, |g, p| {
            // SAFETY: a live handle and a valid C string (see one_string).
            unsafe { sys::guestfs_rm_rf(g, p) }
        })
        .map(drop)
    }

    /// Creates a new directory from `template` (an absolute guest path ending in `XXXXXX`) and
    /// returns its name.
    pub fn mkdtemp(&mut self, template: &str) -> Result<String> {
        const CALL: &str = "mkdtemp";
        let t = cstring(CALL, "tmpl", template.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call; the result is a caller-owned
        // malloc'd string or NULL, handed to `string` at once.
        let p = unsafe { sys::guestfs_mkdtemp(g, t.as_ptr()) };
        self.string(CALL, p)
    }

    // ---- running guest programs ---------------------------------------------------------

    /// Runs `argv[0]` with its arguments inside the guest (chrooted into `/`, which must hold
    /// the program and its libraries) and returns its stdout. A non-zero exit is an error whose
    /// message holds the program's stderr.
    pub fn command(&mut self, args: &[&str]) -> Result<String> {
        const CALL: &str = "command";
        let args = args
            .iter()
            .map(|a| cstring(CALL, "arguments", a.as_bytes()))
            .collect::<Result<Vec<CString>>>()?;
        let v = argv(&args);
        let g = self.g();
        // SAFETY: `g` is live; `v` is a NULL-terminated array of pointers into `args`, both
        // alive during the call; libguestfs does not write through them.
        let p = unsafe { sys::guestfs_command(g, v.as_ptr()) };
        self.string(CALL, p)
    }

    /// Runs `/bin/sh -c command` inside the guest (see [`Handle::command`]).
    pub fn sh(&mut self, command: &str) -> Result<String> {
        const CALL: &str = "sh";
        let command = cstring(CALL, "command", command.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call.
        let p = unsafe { sys::guestfs_sh(g, command.as_ptr()) };
        self.string(CALL, p)
    }

    /// True when the appliance has all the optional feature groups named (`selinuxrelabel`,
    /// `xfs`, …); an error for a name libguestfs does not know.
    pub fn feature_available(&mut self, groups: &[&str]) -> Result<bool> {
        const CALL: &str = "feature_available";
        let groups = groups
            .iter()
            .map(|a| cstring(CALL, "groups", a.as_bytes()))
            .collect::<Result<Vec<CString>>>()?;
        let v = argv(&groups);
        let g = self.g();
        // SAFETY: `g` is live; `v` is a NULL-terminated array into `groups`, alive during the
        // call.
        let r = unsafe { sys::guestfs_feature_available(g, v.as_ptr()) };
        self.check_bool(CALL, r)
    }

    /// Relabels `path` (relative to the mounted guest) with the SELinux contexts of the guest's
    /// `specfile` (`/etc/selinux/targeted/contexts/files/file_contexts`), running `setfiles` in
    /// the appliance. Needs the `selinuxrelabel` feature (see [`Handle::feature_available`]):
    /// where the appliance lacks `setfiles`, touch `/.autorelabel` instead.
    pub fn selinux_relabel(&mut self, specfile: &str, path: &str, force: bool) -> Result<()> {
        const CALL: &str = "selinux_relabel";
        let specfile = cstring(CALL, "specfile", specfile.as_bytes())?;
        let path = cstring(CALL, "path", path.as_bytes())?;
        // SAFETY: plain data; all-zero is the empty value (see add_drive).
        let mut o: sys::guestfs_selinux_relabel_argv = unsafe { std::mem::zeroed() };
        o.bitmask |= optargs::SELINUX_RELABEL_FORCE_BITMASK;
        o.force = c_int::from(force);
        let g = self.g();
        // SAFETY: `g` is live; the strings outlive the call.
        let r =
            unsafe { sys::guestfs_selinux_relabel_argv(g, specfile.as_ptr(), path.as_ptr(), &o) };
        self.check(CALL, r)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Errors while closing are ignored, and must not be printed on this thread either.
        let g = self.g();
        // SAFETY: `g` is live and owned by this handle; it is not used after this.
        unsafe { sys::guestfs_close(g) };
        // SAFETY: `events` came from Box::leak in `new` and is freed only here, after
        // guestfs_close, the last point at which libguestfs could call the event callback.
        drop(unsafe { Box::from_raw(self.events.as_ptr()) });
    }
}

/// `value` as a C `int`, or [`Error::OutOfRange`].
fn int_arg(call: &'static str, arg: &'static str, value: u64) -> Result<c_int> {
    c_int::try_from(value).map_err(|_| Error::OutOfRange {
        call,
        arg,
        value,
        expected: "at most 2^31-1",
    })
}
