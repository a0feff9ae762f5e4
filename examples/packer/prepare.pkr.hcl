# Fix, then gate: `imgprep prepare` writes a fixed copy of the image (the input is never
# changed), then `imgprep check` gates that copy and writes a JUnit report. The manifest is
# written only when the prepared image passes.
#
#   packer build -var image=golden.qcow2 -var output=ready.qcow2 \
#     -var 'prepare_args=--worker worker.tar.gz --package net-tools_2.10_amd64.deb' prepare.pkr.hcl

variable "image" {
  type        = string
  description = "The golden image to prepare (left unchanged)."
}

variable "output" {
  type        = string
  description = "Where the prepared image is written."
}

variable "profile" {
  type    = string
  default = "cloudcenter-worker"
}

# Extra `imgprep prepare` arguments: --worker, --package, --param, --output-format, …
variable "prepare_args" {
  type    = string
  default = ""
}

# Extra arguments for both prepare and check, e.g. "--cloud openstack --param ca=corp-ca.pem".
variable "profile_args" {
  type    = string
  default = ""
}

variable "junit" {
  type    = string
  default = "imgprep-check.xml"
}

variable "manifest" {
  type    = string
  default = "packer-manifest.json"
}

variable "imgprep" {
  type    = string
  default = "imgprep"
}

source "null" "golden" {
  communicator = "none"
}

build {
  sources = ["source.null.golden"]

  post-processors {
    post-processor "shell-local" {
      environment_vars = [
        "IMGPREP=${var.imgprep}",
        "IMAGE=${var.image}",
        "OUTPUT=${var.output}",
        "PROFILE=${var.profile}",
        "PREPARE_ARGS=${var.prepare_args}",
        "PROFILE_ARGS=${var.profile_args}",
        "JUNIT=${var.junit}",
      ]
      # prepare exits 1 when some rules are left failing (no fix known): the check below says
      # which in the JUnit report and fails the build. Exit 2 (nothing written) fails it here.
      inline = [
        "\"$IMGPREP\" prepare \"$IMAGE\" --profile \"$PROFILE\" $PROFILE_ARGS $PREPARE_ARGS -o \"$OUTPUT\" || [ $? -eq 1 ]",
        "\"$IMGPREP\" check \"$OUTPUT\" --profile \"$PROFILE\" $PROFILE_ARGS --format junit > \"$JUNIT\"",
      ]
    }

    post-processor "manifest" {
      output     = var.manifest
      strip_path = true
      custom_data = {
        image   = var.image
        output  = var.output
        profile = var.profile
        junit   = var.junit
      }
    }
  }
}
