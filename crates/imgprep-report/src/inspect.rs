//! Inspection output: JSON, virt-inspector XML, and a table for people.

use std::io::{self, Write as _};

use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use imgprep_inspect::{Inspection, OperatingSystem};

use crate::xml::Writer;

/// Pretty-printed JSON with virt-inspector's field names.
pub fn json(i: &Inspection) -> String {
    let mut s =
        serde_json::to_string_pretty(i).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// [`json`] written to `out` as it is rendered, so a long package list is never held twice.
pub fn write_json(i: &Inspection, out: &mut dyn io::Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, i).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// One image of a fleet inspection as a JSON object: `image` then the inspection's fields, or
/// `image`, `status: "error"` and the `reason` it could not be read.
pub fn image_value(image: &str, i: Result<&Inspection, &str>) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("image".into(), image.into());
    match i {
        Ok(i) => {
            if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(i) {
                m.extend(fields);
            }
        }
        Err(reason) => {
            m.insert("status".into(), "error".into());
            m.insert("reason".into(), reason.into());
        }
    }
    serde_json::Value::Object(m)
}

/// Several images' [`image_value`]s as `{"images": [...]}`.
pub fn json_many(images: &[serde_json::Value]) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::json!({ "images": images }))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// One JSON Lines line: `index` (the position in the whole input list), then the image value.
pub fn jsonl_line(index: usize, image: &serde_json::Value) -> String {
    let mut m = serde_json::Map::new();
    m.insert("index".into(), index.into());
    if let serde_json::Value::Object(fields) = image {
        m.extend(fields.clone());
    }
    let mut s = serde_json::Value::Object(m).to_string();
    s.push('\n');
    s
}

/// virt-inspector's XML document.
pub fn xml(i: &Inspection) -> String {
    let mut w = Writer::new();
    xml_doc(&mut w, i);
    w.finish()
}

/// [`xml`] written to `out` as it is rendered.
pub fn write_xml(i: &Inspection, out: &mut dyn io::Write) -> io::Result<()> {
    let mut w = Writer::to_sink(out);
    xml_doc(&mut w, i);
    w.finish_to_sink()
}

fn xml_doc(w: &mut Writer<'_>, i: &Inspection) {
    w.start("operatingsystems");
    for os in &i.operatingsystems {
        xml_os(w, os);
    }
    w.end();
}

fn xml_os(w: &mut Writer<'_>, os: &OperatingSystem) {
    w.start("operatingsystem");
    w.element("root", &os.root);
    let opt = |w: &mut Writer<'_>, name: &str, v: &Option<String>| {
        if let Some(v) = v {
            w.element(name, v);
        }
    };
    opt(w, "name", &os.name);
    opt(w, "arch", &os.arch);
    opt(w, "distro", &os.distro);
    opt(w, "product_name", &os.product_name);
    opt(w, "product_variant", &os.product_variant);
    w.element("major_version", &os.major_version.to_string());
    w.element("minor_version", &os.minor_version.to_string());
    opt(w, "package_format", &os.package_format);
    opt(w, "package_management", &os.package_management);
    opt(w, "windows_systemroot", &os.windows_systemroot);
    opt(
        w,
        "windows_current_control_set",
        &os.windows_current_control_set,
    );
    opt(w, "hostname", &os.hostname);
    opt(w, "osinfo", &os.osinfo);
    w.start("mountpoints");
    for m in &os.mountpoints {
        w.start("mountpoint");
        w.attribute("dev", &m.dev);
        w.text(&m.path);
        w.end();
    }
    w.end();
    w.start("filesystems");
    for f in &os.filesystems {
        w.start("filesystem");
        w.attribute("dev", &f.dev);
        opt(w, "type", &f.fstype);
        opt(w, "label", &f.label);
        opt(w, "uuid", &f.uuid);
        w.end();
    }
    w.end();
    if !os.drive_mappings.is_empty() {
        w.start("drive_mappings");
        for d in &os.drive_mappings {
            w.start("drive_mapping");
            w.attribute("name", &d.name);
            w.text(&d.dev);
            w.end();
        }
        w.end();
    }
    if let Some(apps) = &os.applications {
        w.start("applications");
        for a in apps {
            w.start("application");
            w.element("name", &a.name);
            opt(w, "display_name", &a.display_name);
            if a.epoch != 0 {
                w.element("epoch", &a.epoch.to_string());
            }
            opt(w, "version", &a.version);
            opt(w, "release", &a.release);
            opt(w, "arch", &a.arch);
            opt(w, "install_path", &a.install_path);
            opt(w, "publisher", &a.publisher);
            opt(w, "url", &a.url);
            opt(w, "source_package", &a.source_package);
            opt(w, "summary", &a.summary);
            opt(w, "description", &a.description);
            w.end();
        }
        w.end();
    }
    w.end();
}

/// A summary for people: OS facts, mounts, filesystems, package count, notes.
pub fn table(i: &Inspection, image: &str) -> String {
    let mut out = String::new();
    if i.operatingsystems.is_empty() {
        out.push_str(&format!("{image}: no operating system found\n"));
    }
    for os in &i.operatingsystems {
        let mut t = new_table();
        t.set_header(vec![Cell::new(image), Cell::new(&os.root)]);
        let version = format!("{}.{}", os.major_version, os.minor_version);
        let rows: [(&str, Option<&str>); 12] = [
            ("name", os.name.as_deref()),
            ("distro", os.distro.as_deref()),
            ("product", os.product_name.as_deref()),
            ("variant", os.product_variant.as_deref()),
            ("version", Some(&version)),
            ("arch", os.arch.as_deref()),
            ("hostname", os.hostname.as_deref()),
            ("osinfo", os.osinfo.as_deref()),
            ("packages", os.package_format.as_deref()),
            ("package manager", os.package_management.as_deref()),
            ("systemroot", os.windows_systemroot.as_deref()),
            ("control set", os.windows_current_control_set.as_deref()),
        ];
        for (k, v) in rows {
            if let Some(v) = v {
                t.add_row(vec![k, v]);
            }
        }
        let mounts: Vec<String> = os
            .mountpoints
            .iter()
            .map(|m| format!("{:<10} {}", m.path, m.dev))
            .collect();
        t.add_row(vec!["mounts".to_owned(), mounts.join("\n")]);
        let fss: Vec<String> = os
            .filesystems
            .iter()
            .map(|f| {
                format!(
                    "{} {} {}{}",
                    f.dev,
                    f.fstype.as_deref().unwrap_or("?"),
                    f.uuid.as_deref().unwrap_or("-"),
                    f.label
                        .as_ref()
                        .map(|l| format!(" \"{l}\""))
                        .unwrap_or_default()
                )
            })
            .collect();
        t.add_row(vec!["filesystems".to_owned(), fss.join("\n")]);
        if !os.drive_mappings.is_empty() {
            let d: Vec<String> = os
                .drive_mappings
                .iter()
                .map(|d| format!("{}: {}", d.name, d.dev))
                .collect();
            t.add_row(vec!["drives".to_owned(), d.join("\n")]);
        }
        if let Some(apps) = &os.applications {
            t.add_row(vec![
                "applications".to_owned(),
                format!("{} installed (--format json lists them)", apps.len()),
            ]);
        }
        if !os.services.is_empty() {
            t.add_row(vec![
                "services".to_owned(),
                format!("{}", os.services.len()),
            ]);
        }
        if !os.notes.is_empty() {
            t.add_row(vec!["notes".to_owned(), os.notes.join("\n")]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    for d in i.disks.iter().filter(|d| !d.is_self_contained()) {
        out.push_str(&format!("{} ({}) also reads:\n", d.device, d.path));
        for c in &d.companions {
            out.push_str(&format!("  {} {:?} -> {}\n", c.role, c.name, c.path));
        }
    }
    for n in &i.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(110);
    t
}
