#!/bin/sh
# The line view on a real terminal: the guest's console is a serial line shown in a tmux pane on the host
# (tests/e2e/tty-rows.sh). Two boards flashed by one `cmboot flash --boards 2` draw one live row each on it.
. /e2e/common.sh
# The serial console has no size until told; the rows need 60 columns at least.
stty -F /dev/console cols 110 rows 30 || fail "cannot set the console's size"
D=/boot-mixed
t=/tmp/tar-mixed
mkfile "$D/bootcode.bin" 51200 1; mkfile "$D/start.elf" 2097152 2; mkfile "$D/fixup.dat" 7265 3
printf 'enable_uart=1\n[all]\nboot_load_flags=0x1\n' > "$D/config.txt"
mkfile "$t/2711/bootcode4.bin" 102400 11
mkfile "$t/2711/mcb.bin" 3072 12; mkfile "$t/2711/bootmain" 204800 17
for i in 0 1 2 3; do mkfile "$t/2711/memsys0$i.bin" 8192 $((13 + i)); done
(cd "$t" && tar -cf "$D/bootfiles.bin" 2711) || fail "cannot make bootfiles.bin"
mkfile "$D/boot.img" 2097152 18
mkfile /tmp/flash.img 8388608 61
echo "E2E-FLASH size=8388608 sha256=$(sha256sum /tmp/flash.img | cut -d' ' -f1)"
echo "E2E-ROWS-START"
cmboot flash /tmp/flash.img -d "$D" --boards 2 --timeout 60 > /tmp/out
rc=$?
echo "E2E-ROWS-END"
note "cmboot flash exit $rc"
[ $rc -eq 0 ] || fail "cmboot flash --boards 2 exited $rc"
pass "two boards flashed with the rows on the console"
