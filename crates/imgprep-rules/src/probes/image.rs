//! Probes about the image file itself rather than the guest inside it.

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::probe::Probe;
use crate::verdict::{Evidence, Outcome, Status};

/// `probe: self-contained`: every disk is one file, with no backing file or parent and no extent
/// in another file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelfContained {}

impl Probe for SelfContained {
    fn run(&self, cx: &Context<'_>) -> Outcome {
        let mut evidence = Vec::new();
        for d in cx.disks {
            for c in &d.companions {
                evidence.push(Evidence::file(
                    &c.named_by,
                    format!("{} {:?} -> {}", c.role, c.name, c.path),
                ));
            }
        }
        if evidence.is_empty() {
            let n = cx.disks.len();
            let what = if n == 1 {
                "the image is"
            } else {
                "every disk is"
            };
            return Outcome::new(
                Status::Pass,
                format!("{what} one file: no backing file or parent, no extent in another file"),
            );
        }
        let files = evidence.len();
        Outcome::new(
            Status::Fail,
            format!(
                "the image reads {files} other file{}: it cannot be uploaded as it is",
                if files == 1 { "" } else { "s" }
            ),
        )
        .with(evidence)
    }
}
