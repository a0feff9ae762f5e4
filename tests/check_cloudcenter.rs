//! `imgprep check --profile cloudcenter-worker` on the Linux fixtures of
//! images-test/rules-cloudcenter.sh (which says what each image holds): for every Linux rule of
//! the profile but umask.login (tests/check_umask.rs), each status it can give, with the message
//! fragments that explain it and the evidence behind it. The Windows rules are in
//! tests/check_windows.rs.

mod common;

use common::{Want, want};

/// Runs the profile on IMAGE of the rules-cloudcenter fixture with `--cloud CLOUD` and `--param`
/// for each `KEY=VALUE` of `params` (a `ca=` value names a file of the fixture: the CA
/// certificates are built with the images), expects exit status `code`, and checks every rule
/// of `wants`.
fn run(image: &str, cloud: Option<&str>, params: &[&str], code: i32, wants: &[Want]) {
    let dir = common::fixture("rules-cloudcenter");
    let params: Vec<String> = params
        .iter()
        .map(|p| match p.strip_prefix("ca=") {
            Some(file) => format!("ca={}", dir.join(file).display()),
            None => (*p).to_owned(),
        })
        .collect();
    common::check(
        &dir.join(image),
        "cloudcenter-worker",
        cloud,
        &params,
        code,
        wants,
    );
}

/// The bundle store's CA, PEM and DER, that some images trust.
const CA: &str = "ca=bundle-store-ca.pem";
const CA_DER: &str = "ca=bundle-store-ca.der";

#[test]
fn centos7_with_the_agent_and_its_needs_on_aws() {
    run(
        "cc-centos7-ready.qcow2",
        Some("aws"),
        &[CA],
        0,
        &[
            want(
                "agent.present",
                "pass",
                &["the management agent is installed"],
                &["/usr/local/osmosix/etc/userenv exists"],
            ),
            want(
                "bootstrap.supported",
                "pass",
                &["aws supports dynamic bootstrapping of CentOS 7"],
                &["rules/matrix.yaml CentOS 7 on aws: Yes"],
            ),
            want(
                "python.version",
                "warn",
                &[
                    "Python 2.7.5 is older than 2.7.9, but its ssl module has \
                     create_default_context",
                    "back-ported 2.7.9's TLS features",
                ],
                &[
                    "rpm database installed: python-2.7.5-90.el7.x86_64",
                    "/usr/lib64/python2.7/ssl.py:7 def create_default_context(",
                ],
            ),
            want(
                "python.python2",
                "skip",
                &["applies to ubuntu only; this image is centos"],
                &[],
            ),
            want(
                "net-tools.present",
                "skip",
                &["applies with --cloud openstack; the cloud is aws"],
                &[],
            ),
            want(
                "openssl-devel.present",
                "pass",
                &["openssl-devel-1:1.0.2k-25.el7_9.x86_64 is installed"],
                &["rpm database installed: openssl-devel-1:1.0.2k-25.el7_9.x86_64"],
            ),
            want(
                "certificates.bundle-store",
                "pass",
                &["bundle-store-ca.pem is in the guest trust store"],
                &[
                    "/etc/pki/tls/certs/ca-bundle.crt holds 1 of the 1 certificate(s) (links to \
                     /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem)",
                    "/etc/pki/ca-trust/source/anchors/bundle-store-ca.pem holds 1 of the 1",
                ],
            ),
            want(
                "worker.user-privileges",
                "pass",
                &[
                    "cliqruser may run any command as root without a password",
                    "exempt from requiretty by /etc/sudoers.d/cliqruser:2",
                ],
                &[
                    "/etc/passwd:2 cliqruser exists",
                    "/etc/sudoers.d/cliqruser:3 cliqruser ALL=(ALL) NOPASSWD: ALL",
                    "/etc/sudoers:7 Defaults    requiretty",
                    "/etc/sudoers.d/cliqruser:2 Defaults:cliqruser !requiretty",
                ],
            ),
            want(
                "cloud-init.present",
                "pass",
                &["cloud-init-19.4-7.el7.centos.3.x86_64 is installed"],
                &["rpm database installed: cloud-init-19.4-7.el7.centos.3.x86_64"],
            ),
            want(
                "cloudbase-init.userdata",
                "skip",
                &["applies to windows only; this image is linux"],
                &[],
            ),
        ],
    );
}

#[test]
fn centos7_with_the_agent_per_cloud_and_parameters() {
    let image = "cc-centos7-ready.qcow2";
    run(
        image,
        None,
        &[],
        0,
        &[
            want(
                "bootstrap.supported",
                "skip",
                &["no --cloud given: the matrix is per cloud"],
                &[],
            ),
            want(
                "net-tools.present",
                "skip",
                &["applies with --cloud openstack; no --cloud given"],
                &[],
            ),
            want(
                "certificates.bundle-store",
                "skip",
                &["no --param ca=FILE given: no CA to look for"],
                &[],
            ),
            want(
                "agent.present",
                "pass",
                &["the management agent is installed"],
                &["/usr/local/osmosix/etc/userenv exists"],
            ),
        ],
    );
    run(
        image,
        Some("openstack"),
        &[],
        0,
        &[
            want(
                "net-tools.present",
                "pass",
                &["net-tools-2.0-0.25.20131004git.el7.x86_64 is installed"],
                &["rpm database installed: net-tools-2.0-0.25.20131004git.el7.x86_64"],
            ),
            want(
                "bootstrap.supported",
                "pass",
                &["openstack supports dynamic bootstrapping of CentOS 7"],
                &["rules/matrix.yaml CentOS 7 on openstack: Yes"],
            ),
        ],
    );
    run(
        image,
        Some("azure"),
        &[],
        0,
        &[want(
            "bootstrap.supported",
            "warn",
            &["azure supports, with Openlogic images only, dynamic bootstrapping of CentOS 7"],
            &["rules/matrix.yaml CentOS 7 on azure: Openlogic images"],
        )],
    );
    run(
        image,
        Some("vmware"),
        &[],
        1,
        &[
            want(
                "bootstrap.supported",
                "fail",
                &["vmware does not support dynamic bootstrapping of CentOS 7"],
                &["rules/matrix.yaml CentOS 7 on vmware: No"],
            ),
            want(
                "agent.present",
                "pass",
                &["the management agent is installed"],
                &["/usr/local/osmosix/etc/userenv exists"],
            ),
        ],
    );
    run(
        image,
        Some("rackspace"),
        &[],
        0,
        &[want(
            "bootstrap.supported",
            "warn",
            &["the support matrix does not list rackspace: dynamic bootstrapping is unproven"],
            &[],
        )],
    );
    // A CA file that cannot be read is an error, not a verdict on the image.
    run(
        image,
        None,
        &["ca=no-such-ca.pem"],
        1,
        &[want(
            "certificates.bundle-store",
            "error",
            &["--param ca:", "no-such-ca.pem"],
            &[],
        )],
    );
    // An HTTP bundle store: SoftLayer cannot bootstrap from it, and the agent needs no OpenSSL
    // headers. The CA given as DER is found as well as PEM.
    run(
        image,
        Some("softlayer"),
        &["bundle_store=http", CA_DER],
        1,
        &[
            want(
                "bootstrap.supported",
                "fail",
                &[
                    "softlayer bootstraps CentOS 7 only from an HTTPS bundle store; bundle_store is http",
                ],
                &["rules/matrix.yaml CentOS 7 on softlayer: Yes"],
            ),
            want(
                "openssl-devel.present",
                "skip",
                &["applies when bundle_store=https; it is http"],
                &[],
            ),
            want(
                "certificates.bundle-store",
                "pass",
                &["bundle-store-ca.der is in the guest trust store"],
                &["/etc/pki/ca-trust/source/anchors/bundle-store-ca.pem holds 1 of the 1"],
            ),
        ],
    );
}

#[test]
fn bare_centos_7_1_on_aws() {
    run(
        "cc-centos7-bare.qcow2",
        Some("aws"),
        &[CA],
        1,
        &[
            want(
                "agent.present",
                "warn",
                &[
                    "no management agent found (looked for /usr/local/osmosix/etc/userenv, \
                     /usr/local/agentlite)",
                    "aws bootstraps CentOS 7 dynamically (Yes), so the platform can push the \
                     agent at provisioning",
                ],
                &[
                    "/usr/local/osmosix/etc/userenv missing",
                    "/usr/local/agentlite missing",
                    "rules/matrix.yaml CentOS 7 on aws: Yes",
                ],
            ),
            want(
                "bootstrap.supported",
                "pass",
                &["aws supports dynamic bootstrapping of CentOS 7"],
                &["rules/matrix.yaml CentOS 7 on aws: Yes"],
            ),
            want(
                "python.version",
                "fail",
                &["Python 2.7.5 is older than 2.7.9 and has no back-ported ssl features"],
                &[
                    "rpm database installed: python-2.7.5-16.el7.x86_64",
                    "/usr/lib64/python2.7/ssl.py no create_default_context",
                ],
            ),
            want(
                "openssl-devel.present",
                "fail",
                &["openssl-devel or libssl-dev is not installed"],
                &["rpm database no package named openssl-devel or libssl-dev among 8 installed"],
            ),
            want(
                "certificates.bundle-store",
                "fail",
                &[
                    "bundle-store-ca.pem is in none of the guest's trust bundles or anchor directories",
                ],
                &[
                    "/etc/pki/tls/certs/ca-bundle.crt 1 other certificate(s), not this CA",
                    "/etc/pki/ca-trust/source/anchors/corp-root-ca.pem 1 other certificate(s)",
                ],
            ),
            want(
                "worker.user-privileges",
                "fail",
                &["cliqruser exists but no sudoers rule grants it anything (groups: cliqruser)"],
                &["/etc/passwd:3 cliqruser exists"],
            ),
            want(
                "cloud-init.present",
                "fail",
                &["cloud-init is not installed"],
                &["rpm database no package named cloud-init among 8 installed"],
            ),
        ],
    );
}

#[test]
fn bare_centos_7_1_where_the_cloud_cannot_push_the_agent() {
    let image = "cc-centos7-bare.qcow2";
    run(
        image,
        Some("vmware"),
        &[],
        1,
        &[want(
            "agent.present",
            "fail",
            &[
                "no management agent found",
                "and vmware cannot bootstrap CentOS 7 dynamically: the image must carry the agent",
            ],
            &[
                "/usr/local/agentlite missing",
                "rules/matrix.yaml CentOS 7 on vmware: No",
            ],
        )],
    );
    run(
        image,
        None,
        &[],
        1,
        &[want(
            "agent.present",
            "fail",
            &[
                "no management agent found",
                "without --cloud imgprep cannot tell whether the platform can install it at \
                 first boot",
            ],
            &["/usr/local/osmosix/etc/userenv missing"],
        )],
    );
    run(
        image,
        Some("openstack"),
        &[],
        1,
        &[want(
            "net-tools.present",
            "fail",
            &["net-tools is not installed"],
            &["rpm database no package named net-tools among 8 installed"],
        )],
    );
}

#[test]
fn rhel_7_with_python3_and_requiretty() {
    let image = "cc-rhel7-requiretty.qcow2";
    run(
        image,
        Some("openstack"),
        &[],
        1,
        &[
            want(
                "agent.present",
                "fail",
                &[
                    "and openstack cannot bootstrap RHEL 7 dynamically: the image must carry the agent",
                ],
                &["rules/matrix.yaml RHEL 7 on openstack: No"],
            ),
            want(
                "bootstrap.supported",
                "fail",
                &["openstack does not support dynamic bootstrapping of RHEL 7"],
                &["rules/matrix.yaml RHEL 7 on openstack: No"],
            ),
            want(
                "python.version",
                "pass",
                &["Python 3.6.8 is installed (need 2.7.9 or later)"],
                &["rpm database installed: python3-3.6.8-21.el7_9.x86_64"],
            ),
            want(
                "python.python2",
                "skip",
                &["applies to ubuntu only; this image is rhel"],
                &[],
            ),
            want(
                "worker.user-privileges",
                "warn",
                &[
                    "cliqruser has sudo rights, but `Defaults requiretty` stops sudo in the \
                     agent's non-interactive sessions",
                ],
                &[
                    "/etc/sudoers:20 cliqruser ALL=(ALL) NOPASSWD: ALL",
                    "/etc/sudoers:7 Defaults    requiretty",
                ],
            ),
        ],
    );
    run(
        image,
        Some("aws"),
        &[],
        1,
        &[
            want(
                "bootstrap.supported",
                "pass",
                &["aws supports dynamic bootstrapping of RHEL 7"],
                &["rules/matrix.yaml RHEL 7 on aws: Yes"],
            ),
            want(
                "agent.present",
                "warn",
                &["aws bootstraps RHEL 7 dynamically (Yes)"],
                &["rules/matrix.yaml RHEL 7 on aws: Yes"],
            ),
        ],
    );
}

#[test]
fn centos_6_with_python_2_6_where_bootstrapping_depends_on_the_setup() {
    run(
        "cc-centos6.qcow2",
        Some("aws"),
        &[],
        1,
        &[
            want(
                "agent.present",
                "warn",
                &["aws bootstraps CentOS 6 dynamically (Depends on the setup)"],
                &["rules/matrix.yaml CentOS 6 on aws: Depends on the setup"],
            ),
            want(
                "bootstrap.supported",
                "warn",
                &["aws supports, depending on the setup, dynamic bootstrapping of CentOS 6"],
                &["rules/matrix.yaml CentOS 6 on aws: Depends on the setup"],
            ),
            want(
                "python.version",
                "fail",
                &["Python 2.6.6 is older than 2.7.9 and has no back-ported ssl features"],
                &["rpm database installed: python-2.6.6-66.el6_8.x86_64"],
            ),
        ],
    );
}

#[test]
fn ubuntu_16_04_with_agentlite_and_python_3_only() {
    run(
        "cc-ubuntu1604-agentlite.qcow2",
        Some("openstack"),
        &[CA],
        1,
        &[
            want(
                "agent.present",
                "pass",
                &["the management agent is installed"],
                &["/usr/local/agentlite exists"],
            ),
            want(
                "bootstrap.supported",
                "warn",
                &[
                    "the support matrix does not list ubuntu 16.04: dynamic bootstrapping on \
                     openstack is unproven",
                ],
                &["rules/matrix.yaml no row for ubuntu 16.04; rows: Windows 2008"],
            ),
            want(
                "python.version",
                "pass",
                &["Python 3.5.2 is installed (need 2.7.9 or later)"],
                &["/var/lib/dpkg/status installed: python3.5-3.5.2-2ubuntu0~16.04.13.amd64"],
            ),
            want(
                "python.python2",
                "fail",
                &[
                    "no Python 2 interpreter: the dynamic bootstrap scripts need Python 2, and \
                     this release ships only Python 3",
                ],
                &["/var/lib/dpkg/status no package named python2.7 or python-minimal among 10"],
            ),
            want(
                "net-tools.present",
                "pass",
                &["net-tools-1.60-26ubuntu1.amd64 is installed"],
                &["/var/lib/dpkg/status installed: net-tools-1.60-26ubuntu1.amd64"],
            ),
            want(
                "openssl-devel.present",
                "pass",
                &["libssl-dev-1.0.2g-1ubuntu4.20.amd64 is installed"],
                &["/var/lib/dpkg/status installed: libssl-dev-1.0.2g-1ubuntu4.20.amd64"],
            ),
            // Copied into the anchors, update-ca-certificates not run yet.
            want(
                "certificates.bundle-store",
                "warn",
                &[
                    "bundle-store-ca.pem is in an anchor directory but in none of the bundles",
                    "once update-ca-trust / update-ca-certificates has run",
                ],
                &["/usr/local/share/ca-certificates/bundle-store-ca.crt holds 1 of the 1"],
            ),
            want(
                "worker.user-privileges",
                "skip",
                &["there is no cliqruser account"],
                &[],
            ),
            want(
                "cloud-init.present",
                "pass",
                &["cloud-init-21.1-19-gbad84ad4-0ubuntu1~16.04.2.all is installed"],
                &["/var/lib/dpkg/status installed: cloud-init-21.1-19-gbad84ad4-0ubuntu1~16.04.2"],
            ),
        ],
    );
}

#[test]
fn ubuntu_16_04_with_python_2_and_sudo_by_password() {
    run(
        "cc-ubuntu1604-python2.qcow2",
        Some("openstack"),
        &[CA],
        1,
        &[
            want(
                "agent.present",
                "fail",
                &[
                    "no management agent found",
                    "and the support matrix does not list ubuntu 16.04 on openstack: the image \
                     must carry the agent",
                ],
                &[
                    "/usr/local/agentlite missing",
                    "rules/matrix.yaml no row for ubuntu 16.04",
                ],
            ),
            want(
                "python.version",
                "pass",
                &["Python 2.7.12 is installed (need 2.7.9 or later)"],
                &["/var/lib/dpkg/status installed: python2.7-2.7.12-1ubuntu0~16.04.18.amd64"],
            ),
            want(
                "python.python2",
                "pass",
                &["Python 2.7.12 is installed"],
                &["/var/lib/dpkg/status installed: python2.7-2.7.12-1ubuntu0~16.04.18.amd64"],
            ),
            want(
                "net-tools.present",
                "fail",
                &["net-tools is not installed"],
                &["/var/lib/dpkg/status no package named net-tools among 8 installed"],
            ),
            want(
                "openssl-devel.present",
                "fail",
                &["openssl-devel or libssl-dev is not installed"],
                &["/var/lib/dpkg/status no package named openssl-devel or libssl-dev among 8"],
            ),
            // Added by update-ca-certificates: in the bundle (and linked from /etc/ssl/certs,
            // the same file as the anchor).
            want(
                "certificates.bundle-store",
                "pass",
                &["bundle-store-ca.pem is in the guest trust store"],
                &[
                    "/etc/ssl/certs/ca-certificates.crt holds 1 of the 1 certificate(s)",
                    "/usr/local/share/ca-certificates/bundle-store-ca.crt holds 1 of the 1",
                ],
            ),
            want(
                "worker.user-privileges",
                "warn",
                &[
                    "cliqruser has sudo rights, but not for all commands without a password, \
                     which the agent needs",
                ],
                &[
                    "/etc/passwd:3 cliqruser exists",
                    "/etc/sudoers:15 %sudo\tALL=(ALL:ALL) ALL",
                ],
            ),
            want(
                "cloud-init.present",
                "fail",
                &["cloud-init is not installed"],
                &["/var/lib/dpkg/status no package named cloud-init among 8 installed"],
            ),
        ],
    );
}

#[test]
fn debian_12_without_python() {
    run(
        "cc-debian12-nopython.qcow2",
        Some("aws"),
        &[CA],
        1,
        &[
            want(
                "python.version",
                "fail",
                &["no Python interpreter is installed (need 2.7.9 or later)"],
                &[
                    "/var/lib/dpkg/status no package named python or python2.7 or python3 among \
                     3 installed",
                    "/usr/bin no pythonX.Y interpreter",
                ],
            ),
            want(
                "python.python2",
                "skip",
                &["applies to ubuntu only; this image is debian"],
                &[],
            ),
            want(
                "bootstrap.supported",
                "warn",
                &["the support matrix does not list debian 12.5: dynamic bootstrapping on aws"],
                &["rules/matrix.yaml no row for debian 12.5"],
            ),
            want(
                "worker.user-privileges",
                "pass",
                &["cliqruser may run any command as root without a password"],
                &[
                    "/etc/passwd:2 cliqruser exists",
                    "/etc/sudoers:20 cliqruser ALL=(ALL:ALL) NOPASSWD:ALL",
                ],
            ),
            want(
                "certificates.bundle-store",
                "fail",
                &["is in none of the guest's trust bundles or anchor directories"],
                &["/etc/ssl/certs/ca-certificates.crt 1 other certificate(s), not this CA"],
            ),
        ],
    );
}
