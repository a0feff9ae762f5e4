//! `imgprep inspect --format json` against virt-inspector's XML, recorded when each fixture was
//! built (images-test/lib.sh `inspector`), on every field virt-inspector reports.
//!
//! Where imgprep deliberately reports more than libguestfs 1.48 (fstab `PARTUUID=` entries, which
//! libguestfs resolves only from 1.52), the case lists the extra entries and why; anything else
//! that differs fails.

mod common;

use std::path::Path;

use serde_json::{Map, Value, json};

/// An entry imgprep reports that virt-inspector 1.48 does not, with the reason.
struct Extra {
    field: &'static str,
    entry: Value,
    why: &'static str,
}

const PARTUUID: &str = "libguestfs 1.48 ignores PARTUUID= in fstab (resolved upstream since 1.52)";

/// `dev` mounted on `path` through a `PARTUUID=` fstab entry, with what blkid says of it.
fn partuuid_mount(dev: &str, path: &str, fs: Value) -> Vec<Extra> {
    let mut fs = fs;
    fs["dev"] = json!(dev);
    vec![
        Extra {
            field: "mountpoints",
            entry: json!({"dev": dev, "path": path}),
            why: PARTUUID,
        },
        Extra {
            field: "filesystems",
            entry: fs,
            why: PARTUUID,
        },
    ]
}

/// virt-inspector's XML as the JSON imgprep prints.
fn xml_to_json(xml: &str) -> Value {
    let doc = roxmltree::Document::parse(xml).expect("virt-inspector XML parses");
    let oses: Vec<Value> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("operatingsystem"))
        .map(|os| {
            let mut m = Map::new();
            for c in os.children().filter(roxmltree::Node::is_element) {
                let name = c.tag_name().name();
                let v = match name {
                    "major_version" | "minor_version" => {
                        json!(c.text().unwrap_or("0").parse::<u64>().expect("number"))
                    }
                    "mountpoints" => Value::Array(
                        elements(c)
                            .map(|e| json!({"dev": e.attribute("dev"), "path": text(e)}))
                            .collect(),
                    ),
                    "drive_mappings" => Value::Array(
                        elements(c)
                            .map(|e| json!({"name": e.attribute("name"), "dev": text(e)}))
                            .collect(),
                    ),
                    "filesystems" => Value::Array(
                        elements(c)
                            .map(|e| {
                                let mut f = fields(e);
                                f.insert("dev".into(), json!(e.attribute("dev")));
                                Value::Object(f)
                            })
                            .collect(),
                    ),
                    "applications" => Value::Array(
                        elements(c)
                            .map(|e| {
                                let mut f = fields(e);
                                if let Some(ep) = f.get_mut("epoch") {
                                    *ep = json!(ep.as_str().unwrap().parse::<u64>().unwrap());
                                }
                                Value::Object(f)
                            })
                            .collect(),
                    ),
                    _ => json!(text(c)),
                };
                m.insert(name.into(), v);
            }
            Value::Object(m)
        })
        .collect();
    json!({ "operatingsystems": oses })
}

fn elements<'a>(n: roxmltree::Node<'a, 'a>) -> impl Iterator<Item = roxmltree::Node<'a, 'a>> {
    n.children().filter(roxmltree::Node::is_element)
}

fn text(n: roxmltree::Node<'_, '_>) -> String {
    n.text().unwrap_or("").to_owned()
}

fn fields(n: roxmltree::Node<'_, '_>) -> Map<String, Value> {
    elements(n)
        .map(|c| (c.tag_name().name().to_owned(), json!(text(c))))
        .collect()
}

/// Applications in a stable order (virt-inspector sorts by name only, unstably).
fn sort_apps(os: &mut Value) {
    if let Some(Value::Array(apps)) = os.get_mut("applications") {
        apps.sort_by_key(|a| a.to_string());
    }
}

/// Compares one image; returns the differences.
fn compare(image: &Path, extras: &[Extra]) -> Vec<String> {
    let xml = fs_err::read_to_string(format!("{}.inspector.xml", image.display()))
        .expect("reference XML next to the image");
    let want = xml_to_json(&xml);
    let ours: Value = serde_json::from_str(&common::imgprep_ok(
        ["inspect", "--format", "json", image.to_str().unwrap()],
        0,
    ))
    .expect("imgprep prints JSON");
    let mut diffs = Vec::new();
    let (w, o) = (&want["operatingsystems"], &ours["operatingsystems"]);
    let (w, o) = (w.as_array().unwrap(), o.as_array().unwrap());
    if w.len() != o.len() {
        diffs.push(format!(
            "{} operating systems, virt-inspector {}",
            o.len(),
            w.len()
        ));
    }
    for (mut w, o) in w.iter().cloned().zip(o.iter().cloned()) {
        let mut o = o;
        for x in extras {
            let list = o[x.field].as_array_mut().unwrap();
            match list.iter().position(|e| *e == x.entry) {
                Some(i) => {
                    list.remove(i);
                }
                None => diffs.push(format!(
                    "expected extra {} entry {} ({}) is missing",
                    x.field, x.entry, x.why
                )),
            }
        }
        sort_apps(&mut w);
        sort_apps(&mut o);
        let wm = w.as_object().unwrap();
        let om = o.as_object().unwrap();
        for (k, wv) in wm {
            let ov = om.get(k).cloned().unwrap_or(Value::Null);
            if *wv == ov {
                continue;
            }
            match (wv, &ov) {
                (Value::Array(wa), Value::Array(oa)) => {
                    for e in wa.iter().filter(|e| !oa.contains(e)) {
                        diffs.push(format!("{k}: missing {e}"));
                    }
                    for e in oa.iter().filter(|e| !wa.contains(e)) {
                        diffs.push(format!("{k}: unexpected {e}"));
                    }
                    if diffs.is_empty() {
                        diffs.push(format!("{k}: same entries, different order"));
                    }
                }
                _ => diffs.push(format!("{k}: imgprep {ov}, virt-inspector {wv}")),
            }
        }
        // Fields virt-inspector leaves out must be left out by imgprep too (or be imgprep's own).
        for (k, ov) in om {
            let ours_only = matches!(k.as_str(), "notes" | "services");
            let empty = ov.as_array().is_some_and(Vec::is_empty);
            if !wm.contains_key(k) && !ours_only && !empty {
                diffs.push(format!("{k}: imgprep {ov}, virt-inspector has none"));
            }
        }
    }
    diffs
}

fn check(fixture: &str, image: &str, extras: &[Extra]) {
    let path = common::fixture(fixture).join(image);
    let diffs = compare(&path, extras);
    assert!(
        diffs.is_empty(),
        "{fixture}/{image} differs from virt-inspector:\n  {}",
        diffs.join("\n  ")
    );
}

#[test]
fn debian_gpt_qcow2() {
    let srv =
        json!({"type": "ext2", "label": "srv", "uuid": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"});
    check(
        "debian-gpt",
        "debian-gpt.qcow2",
        &partuuid_mount("/dev/sda4", "/srv", srv),
    );
}
