# Trino AMI for trino-sentinel (Amazon Linux 2023, arm64 by default).
#   packer init packer/          # Packer >= 1.8 and the amazon plugin (plugins.pkr.hcl)
#   packer build -var trino_version=476 packer/
# packer/files/install-trino.sh is the provisioner; the deployed-topology tests run it unmodified on a Debian host
# (harness/cloud/ami.ts) and boot nodes from the result.

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

variable "trino_distribution" {
  type        = string
  default     = ""
  description = "server (the full trino-server tarball; default up to 476) or core (trino-server-core + one plugin zip per plugin it lacks; default from 477). Every file must be pinned in files/trino-artifacts.sha256."
}

variable "trino_plugins" {
  type        = list(string)
  default     = []
  description = "Plugin directories the AMI carries (plugin/ holds exactly these); [] = DEFAULT_PLUGINS of files/install-trino.sh (tpch, hive, iceberg, delta-lake, memory, jmx, http-event-listener, password-authenticators, resource-group-managers, session-property-managers, exchange-filesystem)."
}

variable "jdk_package" {
  type        = string
  default     = "java-24-amazon-corretto-headless"
  description = "JDK the release needs: 435 -> 17, 436 -> 21, 447 -> 22, 464 -> 23, 476 -> 24."
}

variable "ami_users" {
  type        = list(string)
  default     = []
  description = "AWS account ids the AMI (and its copies) is shared with. The boot volume is encrypted: set kms_key_id to a customer managed key those accounts may use (the AWS managed key cannot be shared)."
}

variable "ami_regions" {
  type        = list(string)
  default     = []
  description = "Regions the AMI is copied to (besides var.region)."
}

variable "kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key of the encrypted boot volume ('' = the AWS managed aws/ebs key; required for sharing through ami_users)."
}

variable "region_kms_key_ids" {
  type        = map(string)
  default     = {}
  description = "KMS key per region of ami_regions (a key is regional), e.g. { eu-central-1 = \"arn:aws:kms:…\" }."
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
  kms_key_id    = var.kms_key_id
  ami_users     = var.ami_users
  ami_regions   = var.ami_regions

  region_kms_key_ids = var.region_kms_key_ids

  # AL2023's OpenSSH refuses RSA/SHA-1 signatures: ed25519 temporary keys (amazon plugin >= 1.0.7).
  temporary_key_pair_type = "ed25519"

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
      "TRINO_DISTRIBUTION=${var.trino_distribution}",
      "TRINO_PLUGINS=${join(" ", var.trino_plugins)}",
      "JDK_PACKAGE=${var.jdk_package}",
      "FILES_DIR=/tmp/trino-sentinel-files",
    ]
    script = "${path.root}/files/install-trino.sh"
  }
}
