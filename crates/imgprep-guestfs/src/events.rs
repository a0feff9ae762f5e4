//! libguestfs events, forwarded to a Rust closure.
//!
//! One callback is registered for the handle's whole life (see [`EventState`]): it keeps warnings
//! and debug messages off stderr (libguestfs prints them there when no callback is registered)
//! and forwards events to the progress closure while one is installed.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use libguestfs_sys as sys;

/// Something libguestfs reported while a call was running.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Progress of the running call: `position` of `total`. During a launch libguestfs reports
    /// twelfths (3 once the appliance is built, 12 once the daemon answered), but only once the
    /// launch has run for 5 s: a launch shows little more than its end. Tick a clock of your
    /// own while waiting, or turn on [`crate::Handle::set_verbose`] for the boot messages.
    Progress {
        /// How far.
        position: u64,
        /// Of how much.
        total: u64,
    },
    /// Output of the appliance's console (with [`crate::Handle::set_verbose`]: kernel and daemon
    /// messages).
    Appliance(String),
    /// A debug message of the library (with [`crate::Handle::set_verbose`]).
    Library(String),
    /// A warning of the library; these are also kept, see [`crate::Handle::take_warnings`].
    Warning(String),
}

/// A progress closure.
pub(crate) type Progress = Box<dyn FnMut(&Event) + Send>;

/// At most this many warnings are kept between two [`crate::Handle::take_warnings`].
const MAX_WARNINGS: usize = 100;

/// What the event callback reaches through its `opaque` pointer.
#[derive(Default)]
pub(crate) struct EventState {
    /// Called for every event while installed.
    pub(crate) progress: Option<Progress>,
    /// A panic caught in `progress`, to resume once the C call has returned.
    pub(crate) panic: Option<Box<dyn Any + Send>>,
    /// Warnings since the last `take_warnings`.
    pub(crate) warnings: Vec<String>,
}

/// The events the callback is registered for.
pub(crate) const EVENT_MASK: u64 = (sys::GUESTFS_EVENT_PROGRESS
    | sys::GUESTFS_EVENT_APPLIANCE
    | sys::GUESTFS_EVENT_LIBRARY
    | sys::GUESTFS_EVENT_WARNING
    | sys::GUESTFS_EVENT_TRACE) as u64;

impl EventState {
    /// Turns one raw event into an [`Event`] and hands it on.
    fn deliver(&mut self, event: Event) {
        if let Event::Warning(w) = &event
            && self.warnings.len() < MAX_WARNINGS
        {
            self.warnings.push(w.clone());
        }
        if self.panic.is_some() {
            return;
        }
        if let Some(progress) = self.progress.as_mut() {
            // The closure must not unwind into C: catch its panic, stop calling it, and resume
            // the panic on the Rust side once libguestfs has returned.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| progress(&event))) {
                self.progress = None;
                self.panic = Some(payload);
            }
        }
    }
}

/// Builds the [`Event`] for a raw callback, or `None` for events we do not forward.
pub(crate) fn decode(event: u64, buf: &[u8], array: &[u64]) -> Option<Event> {
    let text = || {
        String::from_utf8_lossy(buf)
            .trim_end_matches(['\n', '\r'])
            .to_owned()
    };
    match event {
        e if e == u64::from(sys::GUESTFS_EVENT_PROGRESS) => match *array {
            [_proc_nr, _serial, position, total, ..] => Some(Event::Progress { position, total }),
            _ => None,
        },
        e if e == u64::from(sys::GUESTFS_EVENT_APPLIANCE) => Some(Event::Appliance(text())),
        e if e == u64::from(sys::GUESTFS_EVENT_LIBRARY) => Some(Event::Library(text())),
        e if e == u64::from(sys::GUESTFS_EVENT_WARNING) => Some(Event::Warning(text())),
        // Trace messages are only registered for so they stay off stderr.
        _ => None,
    }
}

/// The `guestfs_event_callback` registered on every handle.
///
/// # Safety
/// Called by libguestfs only, with the `opaque` pointer given at registration (a live
/// `RefCell<EventState>` owned by the handle, freed only after `guestfs_close`), `buf_len`
/// readable bytes at `buf` (or NULL) and `array_len` values at `array` (or NULL).
pub(crate) unsafe extern "C" fn callback(
    _g: *mut sys::guestfs_h,
    opaque: *mut c_void,
    event: u64,
    _event_handle: c_int,
    _flags: c_int,
    buf: *const c_char,
    buf_len: usize,
    array: *const u64,
    array_len: usize,
) {
    // Nothing in here may unwind into C; `deliver` catches the closure's panics and the rest
    // does not panic.
    let buf = if buf.is_null() || buf_len == 0 {
        &[][..]
    } else {
        // SAFETY: libguestfs passes `buf_len` readable bytes at `buf`, valid during the call.
        unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), buf_len) }
    };
    let array = if array.is_null() || array_len == 0 {
        &[][..]
    } else {
        // SAFETY: libguestfs passes `array_len` values at `array`, valid during the call.
        unsafe { std::slice::from_raw_parts(array, array_len) }
    };
    let Some(event) = decode(event, buf, array) else {
        return;
    };
    // SAFETY: `opaque` is the `RefCell<EventState>` the handle registered; it outlives the
    // libguestfs handle (freed after guestfs_close), and callbacks run on the thread making the
    // libguestfs call, which holds the handle exclusively, so no other reference is in use.
    let state = unsafe { &*opaque.cast::<RefCell<EventState>>() };
    if let Ok(mut state) = state.try_borrow_mut() {
        state.deliver(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn raw_events_decode() {
        let progress = u64::from(sys::GUESTFS_EVENT_PROGRESS);
        assert_eq!(
            decode(progress, b"", &[0, 0, 3, 12]),
            Some(Event::Progress {
                position: 3,
                total: 12
            })
        );
        assert_eq!(decode(progress, b"", &[0, 0]), None);
        let warning = u64::from(sys::GUESTFS_EVENT_WARNING);
        assert_eq!(
            decode(warning, b"bad \xff thing\n", &[]),
            Some(Event::Warning("bad \u{fffd} thing".into()))
        );
        assert_eq!(decode(u64::from(sys::GUESTFS_EVENT_TRACE), b"x", &[]), None);
    }

    #[test]
    fn callback_forwards_keeps_warnings_and_catches_panics() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        let state = RefCell::new(EventState {
            progress: Some(Box::new(move |e: &Event| {
                if let Event::Library(m) = e
                    && m == "boom"
                {
                    panic!("progress closure panicked");
                }
                seen2.lock().unwrap().push(e.clone());
            })),
            ..EventState::default()
        });
        let opaque = std::ptr::from_ref(&state).cast_mut().cast::<c_void>();
        let call = |event: u32, buf: &[u8], array: &[u64]| {
            // SAFETY: `opaque` points to `state`, alive for the whole test; buffers are slices.
            unsafe {
                callback(
                    std::ptr::null_mut(),
                    opaque,
                    u64::from(event),
                    0,
                    0,
                    buf.as_ptr().cast(),
                    buf.len(),
                    array.as_ptr(),
                    array.len(),
                )
            }
        };
        call(sys::GUESTFS_EVENT_PROGRESS, b"", &[0, 0, 0, 12]);
        call(sys::GUESTFS_EVENT_WARNING, b"careful\n", &[]);
        call(sys::GUESTFS_EVENT_LIBRARY, b"boom", &[]);
        // After the panic the closure is dropped; warnings are still kept.
        call(sys::GUESTFS_EVENT_WARNING, b"again", &[]);
        let st = state.borrow();
        assert!(st.progress.is_none());
        let msg = st.panic.as_ref().unwrap().downcast_ref::<&str>().unwrap();
        assert_eq!(*msg, "progress closure panicked");
        assert_eq!(st.warnings, ["careful", "again"]);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                Event::Progress {
                    position: 0,
                    total: 12
                },
                Event::Warning("careful".into())
            ]
        );
    }
}
