#!/bin/sh
# A gadget with two disks (eMMC LUN 0, NVMe LUN 1), two such CM4s behind a hub: without a choice `cmboot flash`
# refuses and lists both disks (board 1-1.1, nothing written); with --target-kind nvme it writes the NVMe LUN
# (board 1-1.2). The host compares every backing file afterwards.
. /e2e/common.sh
mk_bootdir_modern /boot-cm4 2711 bootcode4.bin
mkfile /tmp/flash.img 8388608 41
echo "E2E-FLASH size=8388608 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
cmboot flash /tmp/flash.img -d /boot-cm4 -p 1-1.1 --timeout 30 2> /tmp/refused.err; rc=$?
cat /tmp/refused.err
note "cmboot flash without a choice: exit $rc"
[ $rc -eq 6 ] || fail "cmboot flash without --lun/--target-kind exited $rc, expected 6 (refused)"
for want in "2 disks under port 1-1.1" "(LUN 0," "(LUN 1," "eMMC)" "\"nvme0n1\", NVMe)" "--target-kind"; do
    grep -q -F -e "$want" /tmp/refused.err || fail "the refusal does not say '$want'"
done
cmboot flash /tmp/flash.img -d /boot-cm4 -p 1-1.2 --target-kind nvme --timeout 30 -v; rc=$?
note "cmboot flash --target-kind nvme: exit $rc"
[ $rc -eq 0 ] || fail "cmboot flash --target-kind nvme exited $rc"
pass "refused without a choice (both disks listed), wrote the NVMe LUN with --target-kind nvme"
