//! Windows registry edits with libguestfs's own `hivex_*` calls, on a hive file inside the
//! mounted guest. One hive is open per handle at a time.

use libguestfs_sys as sys;

use crate::error::{Error, Result};
use crate::ffi::{cstring, take_bytes};
use crate::handle::Handle;
use crate::optargs;

/// A key (node) of the open hive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HiveNode(i64);

/// A value of the open hive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HiveValue(i64);

/// A registry value type (`REG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegType(pub u32);

impl RegType {
    /// `REG_NONE`.
    pub const NONE: RegType = RegType(0);
    /// `REG_SZ`: UTF-16LE text with a terminating NUL (see [`reg_sz`]).
    pub const SZ: RegType = RegType(1);
    /// `REG_EXPAND_SZ`.
    pub const EXPAND_SZ: RegType = RegType(2);
    /// `REG_BINARY`.
    pub const BINARY: RegType = RegType(3);
    /// `REG_DWORD`: 4 bytes, little-endian.
    pub const DWORD: RegType = RegType(4);
    /// `REG_MULTI_SZ`.
    pub const MULTI_SZ: RegType = RegType(7);
    /// `REG_QWORD`: 8 bytes, little-endian.
    pub const QWORD: RegType = RegType(11);
}

/// The bytes of a `REG_SZ` / `REG_EXPAND_SZ` value as Windows writes them: UTF-16LE with the
/// terminating NUL (two zero bytes) included.
pub fn reg_sz(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

impl Handle {
    /// Opens the hive file `path` (a guest path) for reading, or writing with `write`.
    pub fn hivex_open(&mut self, path: &str, write: bool) -> Result<()> {
        const CALL: &str = "hivex_open";
        let path = cstring(CALL, "filename", path.as_bytes())?;
        // SAFETY: plain data; all-zero (bitmask 0) is the empty value, and only fields whose
        // bit is set are read.
        let mut o: sys::guestfs_hivex_open_argv = unsafe { std::mem::zeroed() };
        o.bitmask |= optargs::HIVEX_OPEN_WRITE_BITMASK;
        o.write = i32::from(write);
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call.
        let r = unsafe { sys::guestfs_hivex_open_argv(g, path.as_ptr(), &o) };
        self.check(CALL, r)
    }

    /// Writes the changes back: to the file opened when `to` is `None`, else to the guest path
    /// `to`.
    pub fn hivex_commit(&mut self, to: Option<&str>) -> Result<()> {
        const CALL: &str = "hivex_commit";
        let to = to
            .map(|t| cstring(CALL, "filename", t.as_bytes()))
            .transpose()?;
        let g = self.g();
        // SAFETY: `g` is live; the filename is NULL (commit to the original) or a string that
        // outlives the call.
        let r = unsafe {
            sys::guestfs_hivex_commit(g, to.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()))
        };
        self.check(CALL, r)
    }

    /// Closes the hive (uncommitted changes are dropped).
    pub fn hivex_close(&mut self) -> Result<()> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_hivex_close(g) };
        self.check("hivex_close", r)
    }

    /// The root key.
    pub fn hivex_root(&mut self) -> Result<HiveNode> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_hivex_root(g) };
        self.handle_result("hivex_root", r).map(HiveNode)
    }

    /// The child key `name` of `node` (case-insensitive, as Windows compares), if any.
    pub fn hivex_node_get_child(&mut self, node: HiveNode, name: &str) -> Result<Option<HiveNode>> {
        const CALL: &str = "hivex_node_get_child";
        let name = cstring(CALL, "name", name.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call.
        let r = unsafe { sys::guestfs_hivex_node_get_child(g, node.0, name.as_ptr()) };
        // 0 means no such child.
        Ok(Some(self.handle_result(CALL, r)?)
            .filter(|&h| h != 0)
            .map(HiveNode))
    }

    /// Adds the child key `name` under `parent`.
    pub fn hivex_node_add_child(&mut self, parent: HiveNode, name: &str) -> Result<HiveNode> {
        const CALL: &str = "hivex_node_add_child";
        let name = cstring(CALL, "name", name.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call.
        let r = unsafe { sys::guestfs_hivex_node_add_child(g, parent.0, name.as_ptr()) };
        self.handle_result(CALL, r).map(HiveNode)
    }

    /// Deletes `node` with its subkeys and values.
    pub fn hivex_node_delete_child(&mut self, node: HiveNode) -> Result<()> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_hivex_node_delete_child(g, node.0) };
        self.check("hivex_node_delete_child", r)
    }

    /// The parent key of `node` (an error for the root).
    pub fn hivex_node_parent(&mut self, node: HiveNode) -> Result<HiveNode> {
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_hivex_node_parent(g, node.0) };
        self.handle_result("hivex_node_parent", r).map(HiveNode)
    }

    /// The name of `node`.
    pub fn hivex_node_name(&mut self, node: HiveNode) -> Result<String> {
        let g = self.g();
        // SAFETY: `g` is live.
        let p = unsafe { sys::guestfs_hivex_node_name(g, node.0) };
        self.string("hivex_node_name", p)
    }

    /// The value `key` of `node` (`""` is the default value), if any.
    pub fn hivex_node_get_value(&mut self, node: HiveNode, key: &str) -> Result<Option<HiveValue>> {
        const CALL: &str = "hivex_node_get_value";
        let key = cstring(CALL, "key", key.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; the string outlives the call.
        let r = unsafe { sys::guestfs_hivex_node_get_value(g, node.0, key.as_ptr()) };
        // 0 means no such value.
        Ok(Some(self.handle_result(CALL, r)?)
            .filter(|&h| h != 0)
            .map(HiveValue))
    }

    /// Sets (creates or replaces) the value `key` of `node` to `ty` and the raw bytes `value`
    /// (any bytes; for `REG_SZ` use [`reg_sz`]).
    pub fn hivex_node_set_value(
        &mut self,
        node: HiveNode,
        key: &str,
        ty: RegType,
        value: &[u8],
    ) -> Result<()> {
        const CALL: &str = "hivex_node_set_value";
        let key = cstring(CALL, "key", key.as_bytes())?;
        let g = self.g();
        // SAFETY: `g` is live; `value` is `value.len()` readable bytes (NULs allowed: the length
        // is passed); the key outlives the call.
        let r = unsafe {
            sys::guestfs_hivex_node_set_value(
                g,
                node.0,
                key.as_ptr(),
                i64::from(ty.0),
                value.as_ptr().cast(),
                value.len(),
            )
        };
        self.check(CALL, r)
    }

    /// The child keys of `node`.
    pub fn hivex_node_children(&mut self, node: HiveNode) -> Result<Vec<HiveNode>> {
        const CALL: &str = "hivex_node_children";
        let g = self.g();
        // SAFETY: `g` is live.
        let list = unsafe { sys::guestfs_hivex_node_children(g, node.0) };
        if list.is_null() {
            return Err(self.error(CALL));
        }
        // SAFETY: non-NULL: a caller-owned list of `len` structs at `val` (or `val` NULL when
        // empty), copied, then freed once with its own free function.
        let nodes = unsafe {
            let l = &*list;
            let v = if l.len == 0 || l.val.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts(l.val, l.len as usize)
                    .iter()
                    .map(|n| HiveNode(n.hivex_node_h))
                    .collect()
            };
            sys::guestfs_free_hivex_node_list(list);
            v
        };
        Ok(nodes)
    }

    /// The values of `node`.
    pub fn hivex_node_values(&mut self, node: HiveNode) -> Result<Vec<HiveValue>> {
        const CALL: &str = "hivex_node_values";
        let g = self.g();
        // SAFETY: `g` is live.
        let list = unsafe { sys::guestfs_hivex_node_values(g, node.0) };
        if list.is_null() {
            return Err(self.error(CALL));
        }
        // SAFETY: non-NULL: a caller-owned list of `len` structs at `val` (or `val` NULL when
        // empty), copied, then freed once with its own free function.
        let values = unsafe {
            let l = &*list;
            let v = if l.len == 0 || l.val.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts(l.val, l.len as usize)
                    .iter()
                    .map(|v| HiveValue(v.hivex_value_h))
                    .collect()
            };
            sys::guestfs_free_hivex_value_list(list);
            v
        };
        Ok(values)
    }

    /// The name of `value` (`""` for the default value).
    pub fn hivex_value_key(&mut self, value: HiveValue) -> Result<String> {
        let g = self.g();
        // SAFETY: `g` is live.
        let p = unsafe { sys::guestfs_hivex_value_key(g, value.0) };
        self.string("hivex_value_key", p)
    }

    /// The type of `value`.
    pub fn hivex_value_type(&mut self, value: HiveValue) -> Result<RegType> {
        const CALL: &str = "hivex_value_type";
        let g = self.g();
        // SAFETY: `g` is live.
        let r = unsafe { sys::guestfs_hivex_value_type(g, value.0) };
        let r = self.handle_result(CALL, r)?;
        u32::try_from(r)
            .map(RegType)
            .map_err(|_| Error::Unexpected {
                call: CALL,
                what: format!("type {r}"),
            })
    }

    /// The raw bytes of `value`.
    pub fn hivex_value_value(&mut self, value: HiveValue) -> Result<Vec<u8>> {
        const CALL: &str = "hivex_value_value";
        let g = self.g();
        let mut size = 0usize;
        // SAFETY: `g` is live; `size` is a valid out-pointer.
        let p = unsafe { sys::guestfs_hivex_value_value(g, value.0, &mut size) };
        // SAFETY: on success a caller-owned malloc'd buffer of `size` bytes.
        unsafe { take_bytes(p, size) }.ok_or_else(|| self.error(CALL))
    }

    /// An `int64` handle result: -1 is an error.
    fn handle_result(&mut self, call: &'static str, r: i64) -> Result<i64> {
        if r == -1 {
            Err(self.error(call))
        } else {
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reg_sz_is_utf16le_with_its_nul() {
        assert_eq!(reg_sz("A"), [0x41, 0, 0, 0]);
        assert_eq!(reg_sz(""), [0, 0]);
        assert_eq!(reg_sz("é€"), [0xe9, 0, 0xac, 0x20, 0, 0]);
    }
}
