#!/bin/sh
# sloop e2e boot script: the lab's fake hypervisor never runs it; the test checks that Nova
# received it byte for byte.
echo "sloop-e2e web node" > /var/www/index.html
