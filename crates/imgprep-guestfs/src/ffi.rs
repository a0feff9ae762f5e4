//! Moving strings and buffers across the C boundary: NUL checks on the way in, copy-and-free on
//! the way out.

use std::ffi::{CStr, CString, c_char};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// `s` as a C string, or [`Error::Nul`] naming the call and argument.
pub(crate) fn cstring(call: &'static str, arg: &'static str, s: &[u8]) -> Result<CString> {
    CString::new(s).map_err(|e| Error::Nul {
        call,
        arg,
        offset: e.nul_position(),
    })
}

/// A host path as a C string (any bytes but NUL).
pub(crate) fn path_cstring(call: &'static str, arg: &'static str, p: &Path) -> Result<CString> {
    cstring(call, arg, p.as_os_str().as_bytes())
}

/// A NULL-terminated `char *[]` over `strings`; the pointers borrow from `strings`.
pub(crate) fn argv(strings: &[CString]) -> Vec<*mut c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect()
}

/// Copies the NUL-terminated string `p` (lossily decoded) and frees it with `free`.
///
/// # Safety
/// `p` is NULL, or a NUL-terminated string allocated with `malloc` that the caller owns and does
/// not use afterwards.
pub(crate) unsafe fn take_string(p: *mut c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `p` is a valid NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: the caller owns `p`, allocated with malloc, and gives it up here.
    unsafe { libc::free(p.cast()) };
    Some(s)
}

/// Copies `len` bytes at `p` and frees `p` with `free`.
///
/// # Safety
/// `p` is NULL, or points to at least `len` readable bytes allocated with `malloc` that the
/// caller owns and does not use afterwards.
pub(crate) unsafe fn take_bytes(p: *mut c_char, len: usize) -> Option<Vec<u8>> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `len` readable bytes at `p`.
    let v = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec();
    // SAFETY: the caller owns `p`, allocated with malloc, and gives it up here.
    unsafe { libc::free(p.cast()) };
    Some(v)
}

/// Copies a NULL-terminated array of strings (lossily decoded) and frees the strings and the
/// array with `free`.
///
/// # Safety
/// `p` is NULL, or a malloc'd NULL-terminated array of malloc'd NUL-terminated strings that the
/// caller owns and does not use afterwards.
pub(crate) unsafe fn take_strings(p: *mut *mut c_char) -> Option<Vec<String>> {
    if p.is_null() {
        return None;
    }
    let mut out = Vec::new();
    for i in 0.. {
        // SAFETY: the array is NULL-terminated and we stop at the terminator, so `p.add(i)` is
        // within it.
        let s = unsafe { *p.add(i) };
        if s.is_null() {
            break;
        }
        // SAFETY: each element is a malloc'd NUL-terminated string the caller owns.
        out.extend(unsafe { take_string(s) });
    }
    // SAFETY: the array itself was malloc'd and is owned by the caller.
    unsafe { libc::free(p.cast()) };
    Some(out)
}

/// A lossily decoded copy of a borrowed C string, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string that lives for the duration of the call.
pub(crate) unsafe fn borrowed_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A malloc'd copy of `bytes` plus a NUL, as libguestfs returns strings.
    fn c_dup(bytes: &[u8]) -> *mut c_char {
        // SAFETY: malloc of a non-zero size; checked for NULL below.
        let p = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
        assert!(!p.is_null());
        // SAFETY: `p` has room for `bytes.len() + 1` bytes and does not overlap `bytes`.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
        }
        p.cast()
    }

    #[test]
    fn nul_bytes_are_refused_with_their_offset() {
        let e = cstring("write", "path", b"/etc/a\0b").unwrap_err();
        assert!(matches!(
            e,
            Error::Nul {
                call: "write",
                arg: "path",
                offset: 6
            }
        ));
        assert_eq!(
            e.to_string(),
            "libguestfs write: argument path contains a NUL byte at offset 6"
        );
        assert_eq!(
            cstring("write", "path", b"/etc/a").unwrap().as_bytes(),
            b"/etc/a"
        );
        let e = path_cstring("upload", "filename", Path::new("/tmp/x\0")).unwrap_err();
        assert!(matches!(e, Error::Nul { offset: 6, .. }));
    }

    #[test]
    fn argv_is_null_terminated() {
        let s = [CString::new("a").unwrap(), CString::new("bc").unwrap()];
        let v = argv(&s);
        assert_eq!(v.len(), 3);
        assert!(v[2].is_null());
        assert_eq!(v[1].cast_const(), s[1].as_ptr());
    }

    #[test]
    fn returned_strings_are_copied_lossily_and_freed() {
        // SAFETY: c_dup returns a malloc'd NUL-terminated string we own.
        let s = unsafe { take_string(c_dup(b"caf\xe9 ok")) }.unwrap();
        assert_eq!(s, "caf\u{fffd} ok");
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { take_string(std::ptr::null_mut()) }, None);
        // SAFETY: c_dup returns 4 malloc'd bytes plus a NUL.
        let b = unsafe { take_bytes(c_dup(b"a\0\xffz"), 4) }.unwrap();
        assert_eq!(b, b"a\0\xffz");
        // SAFETY: an empty buffer of length 0 is readable.
        assert_eq!(unsafe { take_bytes(c_dup(b""), 0) }.unwrap(), b"");
    }

    #[test]
    fn returned_string_lists_are_copied_and_freed() {
        let n = 3;
        // SAFETY: malloc of (n + 1) pointers; checked for NULL below.
        let list = unsafe { libc::malloc((n + 1) * std::mem::size_of::<*mut c_char>()) }
            .cast::<*mut c_char>();
        assert!(!list.is_null());
        for (i, s) in [&b"/dev/sda"[..], b"/dev/sda1", b"\xff"].iter().enumerate() {
            // SAFETY: `i < n`, within the allocation.
            unsafe { *list.add(i) = c_dup(s) };
        }
        // SAFETY: index n is the last slot of the allocation.
        unsafe { *list.add(n) = std::ptr::null_mut() };
        // SAFETY: a malloc'd NULL-terminated array of malloc'd strings, given up here.
        let v = unsafe { take_strings(list) }.unwrap();
        assert_eq!(v, ["/dev/sda", "/dev/sda1", "\u{fffd}"]);
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { take_strings(std::ptr::null_mut()) }, None);
    }
}
