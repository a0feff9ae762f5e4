//! Version constraints on an OS's major.minor, as rules write them.

/// A version constraint on (major, minor): `>=7.2`, `<8`, `=16.04`, `16.04`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionReq {
    op: Op,
    v: (u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl VersionReq {
    /// Parses `>=7.2`, `<8`, `=16.04` or `16.04` (the minor version defaults to 0).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (op, rest) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r)))
        .unwrap_or((Op::Eq, s));
        let (a, b) = rest.trim().split_once('.').unwrap_or((rest.trim(), "0"));
        let n = |x: &str| {
            x.parse::<u32>()
                .map_err(|_| format!("{x:?} is not a number"))
        };
        Ok(Self {
            op,
            v: (n(a)?, n(b)?),
        })
    }

    /// True when `v` satisfies the constraint.
    pub fn matches(self, v: (u32, u32)) -> bool {
        match self.op {
            Op::Eq => v == self.v,
            Op::Lt => v < self.v,
            Op::Le => v <= self.v,
            Op::Gt => v > self.v,
            Op::Ge => v >= self.v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constraints() {
        for (req, v, want) in [
            (">=7.2", (7, 9), true),
            (">=7.2", (7, 1), false),
            ("<8", (7, 9), true),
            ("16.04", (16, 4), true),
            ("=16.04", (16, 10), false),
            (">6", (7, 0), true),
            ("<=6.10", (6, 10), true),
        ] {
            assert_eq!(
                VersionReq::parse(req).unwrap().matches(v),
                want,
                "{req} {v:?}"
            );
        }
        assert!(VersionReq::parse(">=x").is_err());
    }
}
