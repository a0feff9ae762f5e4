//! Where a prepared image is written, and how it appears there only when it is finished.
//!
//! Every change goes to a qcow2 overlay of each input disk, created next to the output (or, for
//! `--in-place`, next to the input), so the input's bytes are never touched while the plan is
//! applied. When the plan is applied and verified, the overlay becomes the output: kept as it is
//! ([`Layout::Overlay`]), converted by `qemu-img` into a self-contained image of the chosen format
//! under a temporary name and renamed over the output, or committed into the input
//! ([`Layout::InPlace`]). Until then, and on every failure or interruption, the temporary files
//! are removed when the [`Workspace`] is dropped and no output exists.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use imgprep_container::Format;

use crate::Error;

/// The format a prepared image is written in: what the target cloud imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// qcow2 (OpenStack, KVM).
    Qcow2,
    /// Raw, sparse (Google Cloud wants it in a tar.gz as `disk.raw`).
    Raw,
    /// streamOptimized VMDK (vSphere, AWS VM Import).
    Vmdk,
    /// Fixed VHD with a size aligned to 1 MiB (Azure).
    Vhd,
    /// VHDX (Hyper-V).
    Vhdx,
}

impl OutputFormat {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [OutputFormat; 5] = [
        OutputFormat::Qcow2,
        OutputFormat::Raw,
        OutputFormat::Vmdk,
        OutputFormat::Vhd,
        OutputFormat::Vhdx,
    ];

    /// The name `--output-format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Qcow2 => "qcow2",
            OutputFormat::Raw => "raw",
            OutputFormat::Vmdk => "vmdk",
            OutputFormat::Vhd => "vhd",
            OutputFormat::Vhdx => "vhdx",
        }
    }

    /// `qemu-img convert` arguments after `-O`.
    fn qemu_args(self) -> &'static [&'static str] {
        match self {
            OutputFormat::Qcow2 => &["qcow2", "-o", "compat=1.1"],
            OutputFormat::Raw => &["raw"],
            OutputFormat::Vmdk => &["vmdk", "-o", "subformat=streamOptimized"],
            OutputFormat::Vhd => &["vpc", "-o", "subformat=fixed,force_size=on"],
            OutputFormat::Vhdx => &["vhdx"],
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown output format {s:?} (qcow2, raw, vmdk, vhd, vhdx)"))
    }
}

/// What becomes of the changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A self-contained image in `format` at `path` (for several disks, `path` is a directory
    /// and each disk is written there under its input's name with the format's extension).
    Convert {
        /// Output file, or directory for several disks.
        path: PathBuf,
        /// Its format.
        format: OutputFormat,
        /// Compressed clusters (qcow2 only: `qemu-img convert -c`).
        compress: bool,
    },
    /// The qcow2 overlay itself at `path`, backed by the input: small and fast, but not
    /// self-contained (it needs the input next to it to be read).
    Overlay {
        /// Output file, or directory for several disks.
        path: PathBuf,
    },
    /// Written into the input images themselves, once applied and verified.
    InPlace,
}

/// One input disk: its path and container format.
#[derive(Debug, Clone)]
pub struct Input {
    /// The image as the user named it.
    pub path: PathBuf,
    /// Its container format.
    pub format: Format,
}

/// The temporary files of one prepare run, removed on drop unless [`Workspace::commit`] made
/// them the output.
#[derive(Debug)]
pub struct Workspace {
    layout: Layout,
    disks: Vec<Disk>,
    /// Temporary files that exist now and must go if the run does not finish.
    temps: Vec<PathBuf>,
}

#[derive(Debug)]
struct Disk {
    input: Input,
    /// The overlay the appliance writes (temporary).
    overlay: PathBuf,
    /// The final output (`None` in place).
    output: Option<PathBuf>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name next to `target`: hidden, unique to this process and call.
fn temp_name(target: &Path, what: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    target.with_file_name(format!(".{name}.imgprep-{}-{n}.{what}", std::process::id()))
}

/// Runs `qemu-img ARGS`, turning a failure into an error with its stderr's last line.
pub(crate) fn qemu_img(args: &[&str]) -> Result<String, Error> {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .map_err(|e| Error::Tool {
            tool: "qemu-img",
            detail: format!("cannot run it ({e}); install qemu-utils"),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(Error::Tool {
            tool: "qemu-img",
            detail: format!("{} failed: {}", args.first().unwrap_or(&""), last.trim()),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

impl Workspace {
    /// Checks the destination and creates one qcow2 overlay per input disk, backed by it.
    pub fn create(inputs: &[Input], layout: Layout) -> Result<Workspace, Error> {
        if inputs.is_empty() {
            return Err(Error::Usage("no input image".into()));
        }
        let outputs: Vec<Option<PathBuf>> = match &layout {
            Layout::InPlace => {
                for i in inputs {
                    check_in_place(i)?;
                }
                vec![None; inputs.len()]
            }
            Layout::Convert { path, .. } | Layout::Overlay { path } => {
                let ext = match &layout {
                    Layout::Convert { format, .. } => format.as_str(),
                    _ => "qcow2",
                };
                output_paths(inputs, path, ext)?
            }
        };
        let mut ws = Workspace {
            layout,
            disks: Vec::new(),
            temps: Vec::new(),
        };
        for (input, output) in inputs.iter().zip(outputs) {
            let beside = output.clone().unwrap_or_else(|| input.path.clone());
            let overlay = temp_name(&beside, "overlay.qcow2");
            let backing = fs_err::canonicalize(&input.path).map_err(Error::Io)?;
            ws.temps.push(overlay.clone());
            qemu_img(&[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                input.format.qemu_name(),
                "-b",
                &shown(&backing),
                &shown(&overlay),
            ])?;
            ws.disks.push(Disk {
                input: input.clone(),
                overlay,
                output,
            });
        }
        Ok(ws)
    }

    /// The overlays to add to the appliance, in disk order.
    pub fn overlays(&self) -> Vec<PathBuf> {
        self.disks.iter().map(|d| d.overlay.clone()).collect()
    }

    /// The inputs, in disk order.
    pub fn inputs(&self) -> Vec<Input> {
        self.disks.iter().map(|d| d.input.clone()).collect()
    }

    /// Produces the images to verify: for a conversion, each overlay converted under a
    /// temporary name next to its output; otherwise the overlays themselves. The returned paths
    /// are what [`Workspace::commit`] then makes the output.
    pub fn stage(&mut self) -> Result<Vec<PathBuf>, Error> {
        let format = match &self.layout {
            Layout::Convert { format, .. } => *format,
            Layout::Overlay { .. } | Layout::InPlace => return Ok(self.overlays()),
        };
        let mut staged = Vec::new();
        for i in 0..self.disks.len() {
            let overlay = self.disks[i].overlay.clone();
            let Some(out) = self.disks[i].output.clone() else {
                return Ok(self.overlays());
            };
            let tmp = temp_name(&out, format.as_str());
            self.temps.push(tmp.clone());
            let mut source = overlay.clone();
            if format == OutputFormat::Vhd {
                // Azure wants the virtual size aligned to 1 MiB: grow a copy of the overlay's
                // view (the overlay itself keeps the input's size for verification).
                let size = virtual_size(&overlay)?;
                let aligned = size.div_ceil(1 << 20) << 20;
                if aligned != size {
                    let grown = temp_name(&out, "aligned.qcow2");
                    self.temps.push(grown.clone());
                    qemu_img(&[
                        "create",
                        "-q",
                        "-f",
                        "qcow2",
                        "-F",
                        "qcow2",
                        "-b",
                        &shown(&fs_err::canonicalize(&overlay).map_err(Error::Io)?),
                        &shown(&grown),
                        &aligned.to_string(),
                    ])?;
                    source = grown;
                }
            }
            let mut args = vec!["convert", "-q", "-f", "qcow2"];
            if matches!(self.layout, Layout::Convert { compress: true, .. }) {
                args.push("-c");
            }
            args.push("-O");
            args.extend_from_slice(format.qemu_args());
            let (src, dst) = (shown(&source), shown(&tmp));
            args.push(&src);
            args.push(&dst);
            qemu_img(&args)?;
            staged.push(tmp);
        }
        Ok(staged)
    }

    /// Makes the staged images the output: renames them over the outputs (or commits the
    /// overlays into the inputs), then removes what is left. Returns the outputs.
    pub fn commit(mut self, staged: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
        let mut done = Vec::new();
        match self.layout.clone() {
            Layout::InPlace => {
                for d in &self.disks {
                    qemu_img(&["commit", "-q", "-f", "qcow2", &shown(&d.overlay)])?;
                    done.push(d.input.path.clone());
                }
            }
            Layout::Overlay { .. } | Layout::Convert { .. } => {
                for (d, tmp) in self.disks.iter().zip(staged) {
                    let out = d
                        .output
                        .clone()
                        .ok_or_else(|| Error::Usage("no output".into()))?;
                    // On the disk before it has its name: the output is whole or absent.
                    fs_err::File::open(tmp)
                        .and_then(|f| f.sync_all())
                        .map_err(Error::Io)?;
                    fs_err::rename(tmp, &out).map_err(Error::Io)?;
                    self.temps.retain(|t| t != tmp);
                    done.push(out);
                }
            }
        }
        // Everything else (overlays of a conversion, committed overlays) goes now.
        self.remove_temps();
        Ok(done)
    }

    fn remove_temps(&mut self) {
        for t in self.temps.drain(..) {
            let _ = fs_err::remove_file(&t);
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        self.remove_temps();
    }
}

/// The output path of each disk: `path` itself for one disk, `path/<input stem>.<ext>` for
/// several (then `path` must be a directory). Refuses to overwrite an input.
fn output_paths(inputs: &[Input], path: &Path, ext: &str) -> Result<Vec<Option<PathBuf>>, Error> {
    let outs: Vec<PathBuf> = if inputs.len() == 1 && !path.is_dir() {
        vec![path.to_owned()]
    } else {
        if !path.is_dir() {
            return Err(Error::Usage(format!(
                "-o {}: with {} disks, -o names an existing directory",
                path.display(),
                inputs.len()
            )));
        }
        inputs
            .iter()
            .map(|i| {
                let stem = i
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "disk".into());
                path.join(format!("{stem}.{ext}"))
            })
            .collect()
    };
    for out in &outs {
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "-o {}: the directory {} does not exist",
                out.display(),
                dir.display()
            )));
        }
        for i in inputs {
            if same_file(&i.path, out) {
                return Err(Error::Usage(format!(
                    "-o {} is the input image; use --in-place to change it",
                    out.display()
                )));
            }
        }
    }
    Ok(outs.into_iter().map(Some).collect())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs_err::canonicalize(a), fs_err::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// qemu can write into the input only for formats it writes in place (not streamOptimized
/// VMDK, whose grains can only be appended).
fn check_in_place(i: &Input) -> Result<(), Error> {
    let info = qemu_img(&[
        "info",
        "--output=json",
        "-f",
        i.format.qemu_name(),
        &shown(&i.path),
    ])?;
    let v: serde_json::Value = serde_json::from_str(&info).map_err(|e| Error::Tool {
        tool: "qemu-img",
        detail: format!("info printed JSON it cannot parse: {e}"),
    })?;
    let create_type = v["format-specific"]["data"]["create-type"].as_str();
    if create_type == Some("streamOptimized") {
        return Err(Error::Usage(format!(
            "--in-place: {} is a streamOptimized VMDK, which qemu cannot change in place; \
             write a new image with -o OUT",
            i.path.display()
        )));
    }
    if v["backing-filename"].is_string() {
        return Err(Error::Usage(format!(
            "--in-place: {} has a backing file; committing into it would change the chain: \
             write a new image with -o OUT",
            i.path.display()
        )));
    }
    Ok(())
}

/// The virtual size of a qcow2 image, as qemu-img reports it.
fn virtual_size(image: &Path) -> Result<u64, Error> {
    let info = qemu_img(&["info", "--output=json", "-f", "qcow2", &shown(image)])?;
    let v: serde_json::Value = serde_json::from_str(&info).map_err(|e| Error::Tool {
        tool: "qemu-img",
        detail: format!("info printed JSON it cannot parse: {e}"),
    })?;
    v["virtual-size"].as_u64().ok_or_else(|| Error::Tool {
        tool: "qemu-img",
        detail: "info printed no virtual-size".into(),
    })
}
