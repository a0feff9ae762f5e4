//! Bundles written and read back; hostile archives refused before anything is unpacked.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, write::GzEncoder};
use imgprep_bundle::{
    Bundle, FileKind, Installer, Kind, Manifest, Service, SourceFile, write_bundle,
};

fn manifest() -> Manifest {
    Manifest {
        format: 1,
        kind: Kind::Worker,
        name: "cloudcenter-worker".into(),
        version: "4.10.0".into(),
        prefix: "/usr/local/osmosix".into(),
        target: None,
        files: Vec::new(),
        service: Some(Service {
            name: "cliqr-agent".into(),
            exec: "/usr/local/osmosix/bin/agent".into(),
            description: Some("CloudCenter management agent".into()),
            user: None,
        }),
        user: Some("cliqruser".into()),
        installer: None,
        build: Default::default(),
    }
}

/// A worker tree in `dir` and the members describing it.
fn tree(dir: &Path) -> Vec<SourceFile> {
    fs_err::create_dir_all(dir.join("bin")).unwrap();
    fs_err::create_dir_all(dir.join("etc")).unwrap();
    fs_err::write(dir.join("bin/agent"), "#!/bin/sh\nexec sleep infinity\n").unwrap();
    fs_err::write(
        dir.join("etc/userenv"),
        "export CLIQR_HOME=/usr/local/osmosix\n",
    )
    .unwrap();
    let f = |path: &str, kind, mode, src: Option<PathBuf>, target: Option<&str>| SourceFile {
        path: path.into(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        source: src,
        target: target.map(Into::into),
    };
    vec![
        f(
            "etc/userenv",
            FileKind::File,
            0o644,
            Some(dir.join("etc/userenv")),
            None,
        ),
        f("bin", FileKind::Dir, 0o755, None, None),
        f(
            "bin/agent",
            FileKind::File,
            0o755,
            Some(dir.join("bin/agent")),
            None,
        ),
        f("etc", FileKind::Dir, 0o755, None, None),
        f(
            "bin/agent-current",
            FileKind::Symlink,
            0o777,
            None,
            Some("agent"),
        ),
    ]
}

fn sha256(p: &Path) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(fs_err::read(p).unwrap());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn bundles_are_reproducible_and_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let files = tree(&tmp.path().join("src"));
    let (a, b) = (tmp.path().join("a.tar.gz"), tmp.path().join("b.tar.gz"));
    write_bundle(&a, &manifest(), &files, 1_700_000_000).unwrap();
    // Same inputs listed in another order: the same bytes.
    let mut shuffled = files.clone();
    shuffled.reverse();
    write_bundle(&b, &manifest(), &shuffled, 1_700_000_000).unwrap();
    assert_eq!(sha256(&a), sha256(&b));
    let bundle = Bundle::open(&a).unwrap();
    assert_eq!(bundle.prefix, "/usr/local/osmosix");
    let paths: Vec<&str> = bundle.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "bin",
            "bin/agent",
            "bin/agent-current",
            "etc",
            "etc/userenv"
        ]
    );
    let m = bundle.manifest.as_ref().unwrap();
    assert_eq!(m.files.len(), 5);
    assert_eq!(m.files[1].mode, "0755");
    // The clean tar holds the same members, owners numeric.
    let clean = tmp.path().join("clean.tar");
    bundle.write_clean_tar(&clean).unwrap();
    let mut ar = tar::Archive::new(fs_err::File::open(&clean).unwrap());
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path().unwrap().display().to_string();
            p.trim_end_matches('/').to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "bin",
            "bin/agent",
            "bin/agent-current",
            "etc",
            "etc/userenv"
        ]
    );
    // A different epoch changes the bytes.
    write_bundle(&b, &manifest(), &files, 1_700_000_001).unwrap();
    assert_ne!(sha256(&a), sha256(&b));
}

/// One raw member: name bytes, type flag, size declared, content written.
struct Raw<'a> {
    name: &'a [u8],
    kind: u8,
    size: u64,
    content: &'a [u8],
    link: &'a [u8],
}

fn raw(name: &[u8], kind: u8, content: &[u8]) -> Vec<u8> {
    member(&Raw {
        name,
        kind,
        size: content.len() as u64,
        content,
        link: b"",
    })
}

/// A ustar header block (and content, padded) written by hand, so names the tar crate would
/// refuse to write can be made.
fn member(r: &Raw<'_>) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..r.name.len()].copy_from_slice(r.name);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let size = format!("{:011o}", r.size);
    h[124..124 + size.len()].copy_from_slice(size.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = r.kind;
    h[157..157 + r.link.len()].copy_from_slice(r.link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(r.content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn gz(dir: &Path, name: &str, members: &[Vec<u8>]) -> PathBuf {
    let p = dir.join(name);
    let mut e = GzEncoder::new(fs_err::File::create(&p).unwrap(), Compression::fast());
    for m in members {
        e.write_all(m).unwrap();
    }
    e.write_all(&[0u8; 1024]).unwrap();
    e.finish().unwrap();
    p
}

fn refused(path: &Path, want: &str) {
    let err = Bundle::open_plain(path, "/opt/agent")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(want),
        "{}: want {want:?} in {err}",
        path.display()
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn hostile_archives_are_refused_before_unpacking() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "traversal",
            vec![raw(b"../../etc/cron.d/x", b'0', b"* * * * * root id\n")],
            "`..` path component",
        ),
        (
            "absolute",
            vec![raw(b"/etc/passwd", b'0', b"x")],
            "an absolute path",
        ),
        (
            "link out",
            vec![member(&Raw {
                name: b"bin/sh",
                kind: b'2',
                size: 0,
                content: b"",
                link: b"/etc/shadow",
            })],
            "a symbolic link to /etc/shadow, outside /opt/agent",
        ),
        (
            "link climbing out",
            vec![member(&Raw {
                name: b"a",
                kind: b'2',
                size: 0,
                content: b"",
                link: b"../../..",
            })],
            "outside /opt/agent",
        ),
        (
            "entry below a link",
            vec![
                member(&Raw {
                    name: b"d",
                    kind: b'2',
                    size: 0,
                    content: b"",
                    link: b".",
                }),
                raw(b"d/x", b'0', b"x"),
            ],
            "lies below the symbolic link d",
        ),
        (
            "device node",
            vec![raw(b"dev/sda", b'4', b"")],
            "a device node",
        ),
        ("fifo", vec![raw(b"pipe", b'6', b"")], "a FIFO"),
        (
            "hard link",
            vec![member(&Raw {
                name: b"h",
                kind: b'1',
                size: 0,
                content: b"",
                link: b"/etc/passwd",
            })],
            "a hard link",
        ),
        (
            "10 GiB sparse entry",
            vec![member(&Raw {
                name: b"big",
                kind: b'S',
                size: 10 << 30,
                content: b"",
                link: b"",
            })],
            "sparse",
        ),
        (
            "10 GiB declared",
            vec![member(&Raw {
                name: b"big",
                kind: b'0',
                size: 10 << 30,
                content: b"",
                link: b"",
            })],
            "10737418240 bytes (at most 2147483648 per file)",
        ),
        (
            "duplicate",
            vec![raw(b"a", b'0', b"1"), raw(b"a", b'0', b"2")],
            "a second member with the same path",
        ),
        (
            "long name bomb",
            vec![member(&Raw {
                name: b"././@LongLink",
                kind: b'L',
                size: 1 << 30,
                content: b"",
                link: b"",
            })],
            "a GNU long name of 1073741824 bytes",
        ),
        (
            "pax bomb",
            vec![member(&Raw {
                name: b"pax",
                kind: b'x',
                size: 1 << 30,
                content: b"",
                link: b"",
            })],
            "a PAX header of 1073741824 bytes",
        ),
    ];
    for (name, members, want) in cases {
        let p = gz(d, &format!("{}.tar.gz", name.replace(' ', "-")), &members);
        refused(&p, want);
    }
    // A FIFO given as the bundle, and a file that is not gzip.
    let fifo = d.join("named-pipe.tar.gz");
    std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    refused(&fifo, "is a named pipe (FIFO)");
    let junk = d.join("junk.tar.gz");
    fs_err::write(&junk, b"not gzip at all").unwrap();
    refused(&junk, "not a readable tar.gz");
}

#[test]
fn manifests_must_agree_with_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let files = tree(&tmp.path().join("src"));
    let good = tmp.path().join("good.tar.gz");
    let m = write_bundle(&good, &manifest(), &files, 1).unwrap();
    // Rewrite the archive with one manifest change at a time.
    let rewrite = |name: &str, edit: &dyn Fn(&mut Manifest)| {
        let mut m2 = m.clone();
        edit(&mut m2);
        let json = serde_json::to_vec(&m2).unwrap();
        let mut members = vec![raw(b"imgprep-bundle.json", b'0', &json)];
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
            fs_err::File::open(&good).unwrap(),
        ));
        for e in ar.entries().unwrap().skip(1) {
            let mut e = e.unwrap();
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut content).unwrap();
            let h = e.header();
            let link = h
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default();
            let mut blk = member(&Raw {
                name: &h.path_bytes(),
                kind: h.entry_type().as_byte(),
                size: content.len() as u64,
                content: &content,
                link: &link,
            });
            let mode = format!("{:07o}", h.mode().unwrap());
            blk[100..107].copy_from_slice(mode.as_bytes());
            blk[148..156].fill(b' ');
            let sum: u32 = blk[..512].iter().map(|&b| u32::from(b)).sum();
            blk[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            members.push(blk);
        }
        gz(tmp.path(), name, &members)
    };
    let ok = rewrite("same.tar.gz", &|_| {});
    Bundle::open(&ok).unwrap();
    let checksum = rewrite("sum.tar.gz", &|m| {
        m.files[1].sha256 = Some("00".repeat(32));
    });
    let err = Bundle::open(&checksum).unwrap_err().to_string();
    assert!(err.contains("member bin/agent: checksum mismatch"), "{err}");
    let missing = rewrite("missing.tar.gz", &|m| {
        m.files.push(m.files[0].clone());
        m.files.last_mut().unwrap().path = "bin/ghost".into();
    });
    let err = Bundle::open(&missing).unwrap_err().to_string();
    assert!(
        err.contains("lists bin/ghost, which the archive does not hold"),
        "{err}"
    );
    let mode = rewrite("mode.tar.gz", &|m| m.files[1].mode = "4755".into());
    let err = Bundle::open(&mode).unwrap_err().to_string();
    assert!(
        err.contains("mode 4755 in the manifest, 0755 in the archive"),
        "{err}"
    );
    let unlisted = rewrite("unlisted.tar.gz", &|m| {
        m.files.remove(0);
    });
    let err = Bundle::open(&unlisted).unwrap_err().to_string();
    assert!(
        err.contains("member bin is not in imgprep-bundle.json"),
        "{err}"
    );
    // The installer a Windows guest runs must be one of the bundle's files.
    fn installer(path: &str) -> impl Fn(&mut Manifest) + '_ {
        move |m: &mut Manifest| {
            m.installer = Some(Installer {
                path: path.into(),
                args: Some("/S".into()),
            });
        }
    }
    let ok = rewrite("installer.tar.gz", &installer("bin/agent"));
    let b = Bundle::open(&ok).unwrap();
    assert_eq!(b.manifest.unwrap().installer.unwrap().path, "bin/agent");
    for (name, path, want) in [
        (
            "dir.tar.gz",
            "bin",
            "installer \"bin\" is not a file of the bundle",
        ),
        (
            "ghost.tar.gz",
            "setup.exe",
            "installer \"setup.exe\" is not a file",
        ),
        (
            "up.tar.gz",
            "../setup.exe",
            "installer \"../setup.exe\": a `..` path",
        ),
    ] {
        let err = Bundle::open(&rewrite(name, &installer(path)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    // No manifest at all: a plain tar.gz, refused by open, read by open_plain.
    let plain = gz(
        tmp.path(),
        "plain.tar.gz",
        &[raw(b"etc/userenv", b'0', b"x")],
    );
    let err = Bundle::open(&plain).unwrap_err().to_string();
    assert!(
        err.contains("the first member is not imgprep-bundle.json"),
        "{err}"
    );
    let b = Bundle::open_plain(&plain, "/usr/local/osmosix/").unwrap();
    assert_eq!(b.prefix, "/usr/local/osmosix");
}

/// A cloudify-agent virtualenv's `bin/python*` may link to the base interpreter its manifest
/// declares, and to nothing else outside the prefix.
#[test]
fn virtualenv_links_to_the_declared_interpreter_only() {
    use imgprep_bundle::Target;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("env");
    fs_err::create_dir_all(dir.join("bin")).unwrap();
    fs_err::write(dir.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    let link = |path: &str, target: &str| SourceFile {
        path: path.into(),
        kind: FileKind::Symlink,
        mode: 0o777,
        uid: 0,
        gid: 0,
        source: None,
        target: Some(target.into()),
    };
    let base = vec![
        SourceFile {
            path: "bin".into(),
            kind: FileKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            source: None,
            target: None,
        },
        SourceFile {
            path: "pyvenv.cfg".into(),
            kind: FileKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            source: Some(dir.join("pyvenv.cfg")),
            target: None,
        },
        link("bin/python3", "/usr/bin/python3"),
        link("bin/python", "python3"),
    ];
    let manifest = |kind: Kind, interpreter: Option<&str>| Manifest {
        format: 1,
        kind,
        name: "cloudify-agent".into(),
        version: "3.3".into(),
        prefix: "/opt/cloudify-agent-3.3/agent/env".into(),
        target: Some(Target {
            distribution: "debian".into(),
            release: "12".into(),
            arch: "x86_64".into(),
            python: Some("3.11.2".into()),
            interpreter: interpreter.map(Into::into),
        }),
        files: Vec::new(),
        service: None,
        user: None,
        installer: None,
        build: Default::default(),
    };
    let out = tmp.path().join("agent.tar.gz");
    let open = |m: &Manifest, files: &[SourceFile]| {
        write_bundle(&out, m, files, 0).unwrap();
        Bundle::open(&out).map(|_| ()).map_err(|e| e.to_string())
    };
    open(
        &manifest(Kind::CloudifyAgent, Some("/usr/bin/python3")),
        &base,
    )
    .unwrap();
    // Not declared: the link leaves the prefix.
    let err = open(&manifest(Kind::CloudifyAgent, None), &base).unwrap_err();
    assert!(
        err.contains("a symbolic link to /usr/bin/python3, outside /opt/cloudify-agent-3.3"),
        "{err}"
    );
    // Declared, but linked from elsewhere than bin/, or to another path.
    let mut elsewhere = base.clone();
    elsewhere.push(link("lib/python3", "/usr/bin/python3"));
    let err = open(
        &manifest(Kind::CloudifyAgent, Some("/usr/bin/python3")),
        &elsewhere,
    )
    .unwrap_err();
    assert!(err.contains("entry \"lib/python3\""), "{err}");
    let mut other = base.clone();
    other.push(link("bin/python-shadow", "/etc/shadow"));
    let err = open(
        &manifest(Kind::CloudifyAgent, Some("/usr/bin/python3")),
        &other,
    )
    .unwrap_err();
    assert!(err.contains("a symbolic link to /etc/shadow"), "{err}");
    // The declaration itself is checked.
    for bad in [
        "/etc/shadow",
        "/usr/bin/../sbin/python3",
        "python3",
        "/usr//python",
    ] {
        let mut files = base.clone();
        files.push(link("bin/python9", bad));
        let err = open(&manifest(Kind::CloudifyAgent, Some(bad)), &files).unwrap_err();
        assert!(
            err.contains("is not a plain absolute path to a Python interpreter"),
            "{bad}: {err}"
        );
        assert!(!err.contains('\n'));
    }
    let err = open(&manifest(Kind::Worker, Some("/usr/bin/python3")), &base).unwrap_err();
    assert!(err.contains("is declared by a worker bundle"), "{err}");
}
