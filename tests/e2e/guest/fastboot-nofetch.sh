#!/bin/sh
# The fastboot scenario against a gadget without fetch: (see fastboot.sh): written, never "verified".
. /e2e/fastboot.sh
