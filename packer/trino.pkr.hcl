# Trino AMI for trino-sentinel (Amazon Linux 2023, arm64 by default).
#   packer init is not needed: written for Packer >= 1.6.6, whose amazon-ebs builder is built in; on Packer >= 1.7
#   run `packer plugins install github.com/hashicorp/amazon` first.
#   packer build -var trino_version=476 packer/
# The boot-time renderer and its templates (packer/files/) are the same files the local smoke test uses.

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "architecture" {
  type        = string
  default     = "arm64"
  description = "arm64 (Graviton) or x86_64."
}

variable "instance_type" {
  type    = string
  default = "m7g.large"
}

variable "trino_version" {
  type        = string
  default     = "476"
  description = "Trino release; its artifacts must be pinned in files/trino-artifacts.sha256."
}

variable "trino_plugins" {
  type        = list(string)
  default     = []
  description = "Maven artifact ids of extra plugin zips (e.g. trino-hive, trino-http-event-listener), each pinned in files/trino-artifacts.sha256."
}

variable "jdk_package" {
  type        = string
  default     = "java-24-amazon-corretto-headless"
  description = "JDK the release needs: 435 -> 17, 436 -> 21, 447 -> 22, 464 -> 23, 476 -> 24."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Build subnet ('' = default VPC)."
}

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "trino" {
  region        = var.region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ssh_username  = "ec2-user"
  ami_name      = "trino-sentinel-trino-${var.trino_version}-${var.architecture}-${local.timestamp}"
  encrypt_boot  = true

  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-*-${var.architecture}"
      architecture        = var.architecture
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  # IMDSv2 is enforced by the launch templates in infra/ (metadata_options/imds_support need Packer >= 1.7).

  tags = {
    Name                           = "trino-sentinel-trino-${var.trino_version}"
    "trino-sentinel:trino-version" = var.trino_version
  }
}

build {
  sources = ["source.amazon-ebs.trino"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/trino-sentinel-files"]
  }

  provisioner "file" {
    source      = "${path.root}/files/"
    destination = "/tmp/trino-sentinel-files"
  }

  provisioner "shell" {
    execute_command = "sudo -E bash '{{ .Path }}'"
    environment_vars = [
      "TRINO_VERSION=${var.trino_version}",
      "TRINO_PLUGINS=${join(" ", var.trino_plugins)}",
      "JDK_PACKAGE=${var.jdk_package}",
      "FILES_DIR=/tmp/trino-sentinel-files",
    ]
    script = "${path.root}/files/install-trino.sh"
  }
}
