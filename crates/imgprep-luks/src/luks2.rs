//! LUKS2: a binary header with a SHA-256 checksum, JSON metadata (keyslots, segments, digests),
//! and a secondary copy of both.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use imgprep_io::ReadAt;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::cipher::{Decrypted, Payload, SectorCipher, Spec};
use crate::hash::Hash;
use crate::{Error, Key, Limits, Passphrase, af, cstr, read_bytes, same, try_keyslots};

const SECONDARY_MAGIC: &[u8; 6] = b"SKUL\xba\xbe";
/// Where cryptsetup looks for the secondary header when the primary is unusable.
const SECONDARY_OFFSETS: [u64; 9] = [
    0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
];
/// The largest header (binary part and JSON area) LUKS2 allows.
const MAX_HEADER: u64 = 4 << 20;
/// Largest keyslot area read (cryptsetup's: 64-byte keys, 4000 stripes, rounded to 4 KiB).
const MAX_MATERIAL: u64 = 4 << 20;

#[derive(Debug, Clone)]
pub(crate) struct Luks2 {
    /// Device offset of the header copy in use, for messages.
    at: u64,
    json: Value,
}

fn be64(b: &[u8], off: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(x)
}

/// One header copy read at `at`: (seqid, header) when it is whole and its checksum matches.
fn read_copy(dev: &dyn ReadAt, at: u64, primary: bool) -> Result<(u64, Luks2), Error> {
    let mut bin = [0u8; 4096];
    dev.read_exact_at(at, &mut bin)
        .map_err(|e| Error::io("LUKS2 header", at, e))?;
    let magic_ok = if primary {
        &bin[..6] == crate::MAGIC
    } else {
        &bin[..6] == SECONDARY_MAGIC
    };
    if !magic_ok || bin[6..8] != [0, 2] {
        return Err(Error::invalid(
            "LUKS2 header magic and version",
            at,
            "LUKS2 magic, version 2",
            format!("{:?}", bin[..8].escape_ascii().to_string()),
        ));
    }
    let size = be64(&bin, 8);
    if !(0x4000..=MAX_HEADER).contains(&size) || !size.is_power_of_two() {
        return Err(Error::invalid(
            "LUKS2 header size",
            at + 8,
            "a power of two in 16 KiB..=4 MiB",
            format!("{size:#x}"),
        ));
    }
    let alg = cstr(&bin[72..104]);
    if alg != "sha256" {
        return Err(Error::Unsupported(format!("LUKS2 header checksum {alg:?}")));
    }
    let mut all = read_bytes(dev, at, size, MAX_HEADER, "LUKS2 header")?;
    let stored: Vec<u8> = all[448..480].to_vec();
    all[448..512].fill(0);
    let found = Hash::Sha256.digest(&[&all]);
    if !same(&found, &stored) {
        return Err(Error::invalid(
            "LUKS2 header checksum",
            at + 448,
            hex(&stored),
            hex(&found),
        ));
    }
    let area = &all[4096..];
    let end = area.iter().position(|&c| c == 0).unwrap_or(area.len());
    let json: Value = serde_json::from_slice(&area[..end]).map_err(|e| {
        Error::invalid(
            "LUKS2 JSON metadata",
            at + 4096,
            "valid JSON",
            e.to_string(),
        )
    })?;
    if !json.is_object() {
        return Err(Error::invalid(
            "LUKS2 JSON metadata",
            at + 4096,
            "an object",
            "another JSON value",
        ));
    }
    Ok((be64(&bin, 16), Luks2 { at, json }))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Luks2 {
    /// The newest valid copy: the primary, else a secondary where cryptsetup looks for one.
    pub(crate) fn read(dev: &dyn ReadAt) -> Result<Luks2, Error> {
        let primary = read_copy(dev, 0, true);
        let mut best: Option<(u64, Luks2)> = None;
        let mut first_err = None;
        match primary {
            Ok(p) => best = Some(p),
            Err(e) => first_err = Some(e),
        }
        for at in SECONDARY_OFFSETS {
            if at + 4096 > dev.size() {
                break;
            }
            let mut magic = [0u8; 6];
            if dev.read_exact_at(at, &mut magic).is_err() || &magic != SECONDARY_MAGIC {
                continue;
            }
            if let Ok((seq, h)) = read_copy(dev, at, false)
                && best.as_ref().is_none_or(|(s, _)| seq > *s)
            {
                best = Some((seq, h));
            }
            break;
        }
        match (best, first_err) {
            (Some((_, h)), _) => Ok(h),
            (None, Some(e)) => Err(e),
            (None, None) => Err(Error::invalid("LUKS2 header", 0, "a valid copy", "none")),
        }
    }

    fn bad(&self, what: impl Into<String>, expected: &str, found: impl std::fmt::Display) -> Error {
        Error::invalid(what, self.at + 4096, expected, found)
    }

    pub(crate) fn unlock(
        &self,
        dev: Arc<dyn ReadAt>,
        pass: &Passphrase,
        limits: &Limits,
    ) -> Result<Decrypted, Error> {
        let j = &self.json;
        if let Some(req) = j.pointer("/config/requirements/mandatory")
            && req.as_array().is_some_and(|a| !a.is_empty())
        {
            return Err(Error::Unsupported(format!(
                "LUKS2 mandatory requirements {req}"
            )));
        }
        let segments = j
            .get("segments")
            .and_then(Value::as_object)
            .ok_or_else(|| self.bad("LUKS2 segments", "an object", "none"))?;
        if segments.len() != 1 {
            return Err(Error::Unsupported(format!(
                "LUKS2 with {} segments (reencryption in progress?)",
                segments.len()
            )));
        }
        let (seg_id, seg) = segments.iter().next().expect("one segment");
        let seg_ty = str_field(seg, "type").unwrap_or_default();
        if seg_ty != "crypt" {
            return Err(Error::Unsupported(format!("LUKS2 segment type {seg_ty:?}")));
        }
        if seg.get("integrity").is_some() {
            return Err(Error::Unsupported("LUKS2 integrity protection".into()));
        }
        // Digests that cover this segment, and the keyslots they list.
        let digests = j
            .get("digests")
            .and_then(Value::as_object)
            .ok_or_else(|| self.bad("LUKS2 digests", "an object", "none"))?;
        let mut slot_digest: BTreeMap<u32, &Value> = BTreeMap::new();
        for d in digests.values() {
            if !ids(d, "segments").iter().any(|s| s == seg_id) {
                continue;
            }
            for k in ids(d, "keyslots") {
                if let Ok(n) = k.parse::<u32>() {
                    slot_digest.insert(n, d);
                }
            }
        }
        let keyslots = j
            .get("keyslots")
            .and_then(Value::as_object)
            .ok_or_else(|| self.bad("LUKS2 keyslots", "an object", "none"))?;
        let mut order: Vec<(u32, &Value, &Value)> = Vec::new();
        for (id, ks) in keyslots {
            let Ok(n) = id.parse::<u32>() else { continue };
            let Some(d) = slot_digest.get(&n) else {
                continue;
            };
            // Priority 0 ("ignore") slots are used only when asked for by number.
            if ks.get("priority").and_then(Value::as_i64) == Some(0) {
                continue;
            }
            order.push((n, ks, d));
        }
        // cryptsetup tries high-priority (2) slots first, then normal ones, each by number.
        order.sort_by_key(|(n, ks, _)| (ks.get("priority").and_then(Value::as_i64) != Some(2), *n));
        let enc = str_field(seg, "encryption")
            .ok_or_else(|| self.bad("LUKS2 segment encryption", "a cipher", "none"))?;
        let (key, slot) = try_keyslots(order.iter().map(|(n, _, _)| *n), |n| {
            let (_, ks, d) = order.iter().find(|(m, _, _)| *m == n).expect("listed");
            let key = self.open_slot(&*dev, n, ks, pass, limits)?;
            Ok(self.check_digest(d, &key, limits)?.then_some((key, n)))
        })?;
        let spec = Spec::parse_joined(enc, key.len())?;
        let sector_size = num_field(seg, "sector_size").unwrap_or(512);
        if !matches!(sector_size, 512 | 1024 | 2048 | 4096) {
            return Err(self.bad(
                "LUKS2 segment sector_size",
                "512, 1024, 2048 or 4096",
                sector_size,
            ));
        }
        let offset = num_field(seg, "offset")
            .ok_or_else(|| self.bad("LUKS2 segment offset", "a number", "none"))?;
        let size = match seg.get("size").and_then(Value::as_str) {
            Some("dynamic") => None,
            _ => Some(num_field(seg, "size").ok_or_else(|| {
                self.bad("LUKS2 segment size", "a number or \"dynamic\"", "none")
            })?),
        };
        let payload = Payload {
            offset,
            size,
            sector_size,
            iv_tweak: num_field(seg, "iv_tweak").unwrap_or(0),
            spec,
        };
        Decrypted::new(dev, &payload, &key, slot)
    }

    /// The volume key candidate of keyslot `n` (not yet checked against a digest).
    fn open_slot(
        &self,
        dev: &dyn ReadAt,
        n: u32,
        ks: &Value,
        pass: &Passphrase,
        limits: &Limits,
    ) -> Result<Key, Error> {
        let what = |f: &str| format!("LUKS2 keyslot {n} {f}");
        let ty = str_field(ks, "type").unwrap_or_default();
        if ty != "luks2" {
            return Err(Error::Unsupported(format!("keyslot {n} of type {ty:?}")));
        }
        let key_len = num_field(ks, "key_size")
            .filter(|k| (1..=128).contains(k))
            .ok_or_else(|| self.bad(what("key_size"), "1..=128", "another value"))?
            as usize;
        let af = ks
            .get("af")
            .ok_or_else(|| self.bad(what("af"), "an object", "none"))?;
        if str_field(af, "type") != Some("luks1") {
            return Err(Error::Unsupported(format!(
                "keyslot {n} anti-forensic type"
            )));
        }
        let stripes = num_field(af, "stripes")
            .filter(|s| (1..=65536).contains(s))
            .ok_or_else(|| self.bad(what("af stripes"), "1..=65536", "another value"))?
            as usize;
        let af_hash = Hash::parse(str_field(af, "hash").unwrap_or("sha256"))?;
        let area = ks
            .get("area")
            .ok_or_else(|| self.bad(what("area"), "an object", "none"))?;
        if str_field(area, "type") != Some("raw") {
            return Err(Error::Unsupported(format!("keyslot {n} area type")));
        }
        let area_key_len = num_field(area, "key_size")
            .filter(|k| (1..=128).contains(k))
            .ok_or_else(|| self.bad(what("area key_size"), "1..=128", "another value"))?
            as usize;
        let area_spec = Spec::parse_joined(
            str_field(area, "encryption").unwrap_or_default(),
            area_key_len,
        )?;
        let area_off = num_field(area, "offset")
            .ok_or_else(|| self.bad(what("area offset"), "a number", "none"))?;
        let area_size = num_field(area, "size")
            .ok_or_else(|| self.bad(what("area size"), "a number", "none"))?;
        let len = (key_len * stripes) as u64;
        let read_len = len.div_ceil(512) * 512;
        if read_len > area_size {
            return Err(self.bad(
                what("area size"),
                &format!("at least {read_len} bytes for {stripes} stripes"),
                area_size,
            ));
        }
        // Derive first: a slot whose cost is refused is never read.
        let slot_key = self.derive(n, ks, pass, area_key_len, limits)?;
        let mut material = read_bytes(dev, area_off, read_len, MAX_MATERIAL, &what("area"))?;
        SectorCipher::new(&area_spec, &slot_key).decrypt(&mut material, 512, 0);
        Ok(af::merge(
            &material[..len as usize],
            key_len,
            stripes,
            af_hash,
        ))
    }

    fn derive(
        &self,
        n: u32,
        ks: &Value,
        pass: &Passphrase,
        len: usize,
        limits: &Limits,
    ) -> Result<Key, Error> {
        let kdf = ks
            .get("kdf")
            .ok_or_else(|| self.bad(format!("LUKS2 keyslot {n} kdf"), "an object", "none"))?;
        let salt = b64_field(kdf, "salt")
            .ok_or_else(|| self.bad(format!("LUKS2 keyslot {n} kdf salt"), "base64", "none"))?;
        let mut out = Zeroizing::new(vec![0u8; len]);
        match str_field(kdf, "type").unwrap_or_default() {
            "pbkdf2" => {
                let hash = Hash::parse(str_field(kdf, "hash").unwrap_or("sha256"))?;
                let it = num_field(kdf, "iterations").unwrap_or(0);
                if it > u64::from(limits.pbkdf2_iterations) {
                    return Err(Error::CostTooHigh {
                        keyslot: n,
                        what: "PBKDF2 iterations",
                        cost: it,
                        limit: limits.pbkdf2_iterations.into(),
                    });
                }
                if it == 0 {
                    return Err(self.bad(format!("LUKS2 keyslot {n} iterations"), "at least 1", 0));
                }
                hash.pbkdf2(pass.bytes(), &salt, it as u32, &mut out);
            }
            ty @ ("argon2i" | "argon2id") => {
                let algo = if ty == "argon2i" {
                    argon2::Algorithm::Argon2i
                } else {
                    argon2::Algorithm::Argon2id
                };
                let memory = num_field(kdf, "memory").unwrap_or(0);
                let time = num_field(kdf, "time").unwrap_or(0);
                let cpus = num_field(kdf, "cpus").unwrap_or(0);
                let cost = |what, cost: u64, limit: u64| Error::CostTooHigh {
                    keyslot: n,
                    what,
                    cost,
                    limit,
                };
                if memory > u64::from(limits.argon2_memory_kib) {
                    let what = if ty == "argon2i" {
                        "argon2i memory (KiB)"
                    } else {
                        "argon2id memory (KiB)"
                    };
                    return Err(cost(what, memory, limits.argon2_memory_kib.into()));
                }
                if time > u64::from(limits.argon2_passes) {
                    return Err(cost("Argon2 passes", time, limits.argon2_passes.into()));
                }
                if cpus > 16 {
                    return Err(cost("Argon2 lanes", cpus, 16));
                }
                let params =
                    argon2::Params::new(memory as u32, time as u32, cpus as u32, Some(len))
                        .map_err(|e| {
                            self.bad(
                                format!("LUKS2 keyslot {n} Argon2 parameters"),
                                "parameters Argon2 accepts",
                                format!("memory {memory}, time {time}, cpus {cpus}: {e}"),
                            )
                        })?;
                argon2::Argon2::new(algo, argon2::Version::V0x13, params)
                    .hash_password_into(pass.bytes(), &salt, &mut out)
                    .map_err(|e| {
                        self.bad(
                            format!("LUKS2 keyslot {n} Argon2 input"),
                            "a salt and passphrase Argon2 accepts",
                            e,
                        )
                    })?;
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "keyslot {n} key derivation {other:?}"
                )));
            }
        }
        Ok(out)
    }

    /// Whether `key` matches digest object `d`.
    fn check_digest(&self, d: &Value, key: &[u8], limits: &Limits) -> Result<bool, Error> {
        if str_field(d, "type") != Some("pbkdf2") {
            return Err(Error::Unsupported(format!(
                "LUKS2 digest type {:?}",
                str_field(d, "type").unwrap_or_default()
            )));
        }
        let hash = Hash::parse(str_field(d, "hash").unwrap_or("sha256"))?;
        let it = num_field(d, "iterations").unwrap_or(0);
        if it == 0 || it > u64::from(limits.pbkdf2_iterations) {
            return Err(self.bad(
                "LUKS2 digest iterations",
                &format!("1..={}", limits.pbkdf2_iterations),
                it,
            ));
        }
        let salt =
            b64_field(d, "salt").ok_or_else(|| self.bad("LUKS2 digest salt", "base64", "none"))?;
        let want = b64_field(d, "digest")
            .filter(|w| !w.is_empty() && w.len() <= 64)
            .ok_or_else(|| self.bad("LUKS2 digest", "1..=64 bytes of base64", "another value"))?;
        let mut got = vec![0u8; want.len()];
        hash.pbkdf2(key, &salt, it as u32, &mut got);
        Ok(same(&got, &want))
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// LUKS2 writes 64-bit numbers as decimal strings and small ones as JSON numbers.
fn num_field(v: &Value, k: &str) -> Option<u64> {
    match v.get(k)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn b64_field(v: &Value, k: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(str_field(v, k)?)
        .ok()
}

/// The string ids in the array `k` of `v`.
fn ids(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}
