//! CPU architecture from the ELF header of a well-known binary, as libguestfs decides it.

use imgprep_guest::Guest;

/// The binaries looked at, in order; the first readable ELF decides.
const ARCH_BINARIES: [&str; 5] = ["/bin/bash", "/bin/ls", "/bin/echo", "/bin/rm", "/bin/sh"];

/// The architecture of the first of [`ARCH_BINARIES`] that is an ELF executable, shared object
/// or relocatable file.
pub(crate) fn check_architecture(g: &dyn Guest) -> Option<String> {
    ARCH_BINARIES.iter().find_map(|bin| {
        if !g.is_file(bin) {
            return None;
        }
        let real = g.realpath(bin).ok()?;
        let head = g.read(&real, 0, 64).ok()?;
        elf_arch(&head).map(str::to_owned)
    })
}

/// libguestfs's name for the machine of an ELF image, or `None` when `head` is not one.
pub(crate) fn elf_arch(head: &[u8]) -> Option<&'static str> {
    if head.len() < 20 || head[..4] != *b"\x7fELF" {
        return None;
    }
    let bits64 = match head[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big_endian = match head[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let half = |off: usize| {
        let b = [head[off], head[off + 1]];
        if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    // ET_REL, ET_EXEC, ET_DYN: what `file` calls relocatable, executable, shared object.
    if !matches!(half(16), 1..=3) {
        return None;
    }
    Some(match (half(18), bits64, big_endian) {
        (3 | 6, _, _) => "i386",
        (62, _, _) => "x86_64",
        (2, _, _) => "sparc",
        (43, _, _) => "sparc64",
        (50, _, _) => "ia64",
        (21, _, true) => "ppc64",
        (21, _, false) => "ppc64le",
        (20, _, _) => "ppc",
        (183, _, _) => "aarch64",
        (40, _, _) => "arm",
        (243, false, _) => "riscv32",
        (243, true, _) => "riscv64",
        (22, false, _) => "s390",
        (22, true, _) => "s390x",
        (8, false, _) => "mips",
        (8, true, _) => "mips64",
        (258, _, _) => "loongarch64",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class: u8, data: u8, ty: u16, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = data;
        let put = |h: &mut Vec<u8>, off: usize, v: u16| {
            let b = if data == 2 {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            h[off..off + 2].copy_from_slice(&b);
        };
        put(&mut h, 16, ty);
        put(&mut h, 18, machine);
        h
    }

    #[test]
    fn elf_machines_map_to_libguestfs_names() {
        for (class, data, ty, machine, want) in [
            (2, 1, 3, 62, Some("x86_64")),
            (1, 1, 2, 3, Some("i386")),
            (2, 1, 3, 183, Some("aarch64")),
            (2, 2, 2, 21, Some("ppc64")),
            (2, 1, 2, 21, Some("ppc64le")),
            (2, 2, 2, 22, Some("s390x")),
            (2, 1, 3, 243, Some("riscv64")),
            (2, 1, 4, 62, None), // a core dump
            (3, 1, 2, 62, None), // bad class
        ] {
            assert_eq!(elf_arch(&header(class, data, ty, machine)), want);
        }
        assert_eq!(elf_arch(b"#!/bin/sh\n"), None);
        assert_eq!(elf_arch(b"\x7fELF"), None);
    }

    #[test]
    fn the_host_binary_is_recognised() {
        let me = fs_err::read("/proc/self/exe").unwrap();
        let want = match std::env::consts::ARCH {
            "x86" => "i386",
            a => a,
        };
        assert_eq!(elf_arch(&me), Some(want));
    }
}
