# Gate a golden image with imgprep: `imgprep check` writes a JUnit report and fails the build
# when a rule of the profile fails. The manifest is written only when the gate passes.
#
#   packer build -var image=golden.qcow2 gate.pkr.hcl
#
# With a builder that makes the image (qemu, …), put these post-processors in its build and
# pass the builder's output file as `image` (see README.md).

variable "image" {
  type        = string
  description = "The disk image to check."
}

variable "profile" {
  type    = string
  default = "cloudcenter-worker"
}

# Extra `imgprep check` arguments, e.g. "--cloud openstack --param bundle_store=https".
variable "check_args" {
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
        "PROFILE=${var.profile}",
        "CHECK_ARGS=${var.check_args}",
        "JUNIT=${var.junit}",
      ]
      # Exit 1 (a rule failed) or 2 (imgprep could not run) fails the build.
      inline = [
        "\"$IMGPREP\" check \"$IMAGE\" --profile \"$PROFILE\" $CHECK_ARGS --format junit > \"$JUNIT\"",
      ]
    }

    post-processor "manifest" {
      output     = var.manifest
      strip_path = true
      custom_data = {
        image   = var.image
        profile = var.profile
        junit   = var.junit
      }
    }
  }
}
