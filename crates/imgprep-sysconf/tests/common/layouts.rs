//! SCAP Security Guide umask layouts: the files of each, and the umask its rules require.

pub(crate) struct Layout {
    pub(crate) name: &'static str,
    /// `var_accounts_user_umask` for this layout.
    pub(crate) required: &'static str,
    pub(crate) files: &'static [(&'static str, &'static str)],
}

const RHEL7_PROFILE_UMASK: &str =
    "# By default, we want umask to get set. This sets it for login shell
if [ $UID -gt 199 ] && [ \"`/usr/bin/id -gn`\" = \"`/usr/bin/id -un`\" ]; then
    umask 002
else
    umask 022
fi
";

const RHEL7_BASHRC_UMASK: &str = "if ! shopt -q login_shell ; then # We're not a login shell
    if [ $UID -gt 199 ] && [ \"`/usr/bin/id -gn`\" = \"`/usr/bin/id -un`\" ]; then
       umask 002
    else
       umask 022
    fi
fi
";

pub(crate) const LAYOUTS: &[Layout] = &[
    Layout {
        name: "022 everywhere",
        required: "022",
        files: &[
            ("etc/login.defs", "PASS_MAX_DAYS\t99999\nUMASK\t\t022\n"),
            ("etc/profile", "umask 022\n"),
            ("etc/bashrc", "umask 022\n"),
        ],
    },
    Layout {
        name: "077 in login.defs only",
        required: "077",
        files: &[
            ("etc/login.defs", "UMASK 077\nUSERGROUPS_ENAB yes\n"),
            ("etc/profile", "umask 022\n"),
            ("etc/bashrc", "umask 022\n"),
        ],
    },
    Layout {
        name: "027 in /etc/profile",
        required: "027",
        files: &[
            ("etc/login.defs", "UMASK 022\n"),
            ("etc/profile", "export PATH\numask 027\n"),
            ("etc/bashrc", "umask 022\n"),
        ],
    },
    Layout {
        name: "077 in profile.d/zz.sh",
        required: "077",
        files: &[
            ("etc/login.defs", "UMASK 022\n"),
            (
                "etc/profile",
                "umask 022\nfor i in /etc/profile.d/*.sh; do . $i; done\n",
            ),
            ("etc/profile.d/zz.sh", "umask 077\n"),
            ("etc/bashrc", "umask 022\n"),
        ],
    },
    Layout {
        name: "RHEL 7 conditional 002/022",
        required: "022",
        files: &[
            (
                "etc/login.defs",
                "UMASK           077\nUSERGROUPS_ENAB yes\n",
            ),
            ("etc/profile", RHEL7_PROFILE_UMASK),
            ("etc/bashrc", RHEL7_BASHRC_UMASK),
        ],
    },
    Layout {
        name: "077 in bashrc",
        required: "077",
        files: &[
            ("etc/login.defs", "UMASK 022\n"),
            ("etc/profile", "umask 022\n"),
            ("etc/bashrc", "# hardened\numask 077\n"),
        ],
    },
    Layout {
        name: "no UMASK in login.defs",
        required: "022",
        files: &[
            ("etc/login.defs", "MAIL_DIR /var/spool/mail\n#UMASK 022\n"),
            ("etc/profile", "umask 022\n"),
            ("etc/bashrc", "umask 022\n"),
        ],
    },
    Layout {
        name: "duplicated contradictory lines",
        required: "027",
        files: &[
            ("etc/login.defs", "UMASK 027\nUMASK 022\n"),
            ("etc/profile", "umask 077\numask 027\n"),
            ("etc/bashrc", "umask 022\numask 027\n"),
        ],
    },
    Layout {
        name: "commented-out umask",
        required: "077",
        files: &[
            ("etc/login.defs", "# UMASK 077\nUMASK 022\n"),
            ("etc/profile", "#umask 077\n  # umask 077\n"),
            ("etc/bashrc", "umask 077 # was 022\n"),
        ],
    },
    Layout {
        name: "csh files",
        required: "077",
        files: &[
            ("etc/login.defs", "UMASK 022\n"),
            ("etc/profile", "umask 022\n"),
            ("etc/bashrc", "umask 022\n"),
            ("etc/csh.cshrc", "umask 077\n"),
            ("etc/csh.login", "umask 077\n"),
        ],
    },
    Layout {
        name: "tabs and odd spacing",
        required: "027",
        files: &[
            ("etc/login.defs", "  UMASK\t\t027   # CIS\n"),
            ("etc/profile", "\t umask\t027\r\n"),
            ("etc/bashrc", "\n\n    umask     077;\n"),
        ],
    },
    Layout {
        name: "four digits, two digits, symbolic",
        required: "022",
        files: &[
            ("etc/login.defs", "UMASK 0022\n"),
            ("etc/profile", "umask u=rwx,g=rx,o=rx\n"),
            ("etc/bashrc", "umask 22\n"),
        ],
    },
    Layout {
        name: "umask alone on its line",
        required: "077",
        files: &[
            ("etc/login.defs", "UMASK\n077\n"),
            ("etc/profile", "umask\n077\n"),
            ("etc/bashrc", "umask\numask 077\n"),
        ],
    },
    Layout {
        name: "no files",
        required: "022",
        files: &[("etc/hostname", "bare\n")],
    },
];
