#!/bin/sh
# cloud-init boot script for the election-results web tier (example).
set -eu
apt-get update -qq && apt-get install -y -qq nginx
systemctl enable --now nginx
