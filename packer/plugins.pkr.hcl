# What a real build needs (docs/deploy.md, "AMI"): Packer >= 1.8 and the amazon plugin, installed by
#   packer init packer/
# The amazon plugin creates ed25519 temporary key pairs (temporary_key_pair_type, honoured since plugin 1.0.7):
# Amazon Linux 2023's OpenSSH refuses the RSA/SHA-1 signatures of older Packer releases.
# Debian's Packer 1.6.6 (the only one installable here) predates this block: npm run check:infra validates
# packer/ without this file and says so.
packer {
  required_version = ">= 1.8.0"
  required_plugins {
    amazon = {
      version = ">= 1.2.0, < 2.0.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
