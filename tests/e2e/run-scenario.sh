#!/bin/bash
# Runs one e2e scenario: cmboot-sim board(s) on usbredir sockets, a QEMU guest (TCG, qemu-xhci, no udev) running
# cmboot, then checks the guest's result line and what the emulated boards saw.
#
# Usage: run-scenario.sh --build BUILD_DIR --scenario NAME [--live] [--timeout SEC] [--link MBPS]
#        [--guest-args ARGS]   (replaces the scenario's e2e.args=, e.g. bench settings CHUNK,PIECE,INFLIGHT)
#        [--sim-args ARGS]     (added to every board's cmboot-sim options, e.g. "--timing real")
#        [--cmboot PATH]       (the guest's cmboot; arm64-host: the arm64 build's, default ../build-arm64/cmboot)
# Exit 0 = pass. Any missing component (QEMU, kernel, busybox) is a failure, never a skip.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=""
SCENARIO=""
LIVE=0
TIMEOUT=${CMBOOT_E2E_TIMEOUT:-90}
LINK=40
GUEST_ARGS_OVERRIDE=""
HAVE_GUEST_ARGS=0
SIM_EXTRA=""
CMBOOT_OVERRIDE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
        --scenario) SCENARIO=$2; shift 2 ;;
        --live) LIVE=1; shift ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --link) LINK=$2; shift 2 ;;
        --guest-args) GUEST_ARGS_OVERRIDE=$2; HAVE_GUEST_ARGS=1; shift 2 ;;
        --sim-args) SIM_EXTRA=$2; shift 2 ;;
        --cmboot) CMBOOT_OVERRIDE=$2; shift 2 ;;
        *) echo "run-scenario: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "E2E FAIL [$SCENARIO]: $*" >&2; exit 1; }
{ [ -n "$BUILD" ] && [ -n "$SCENARIO" ]; } || die "usage: run-scenario.sh --build DIR --scenario NAME"
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 is missing: install qemu-system-x86"
SIM=$BUILD/cmboot-sim
CMBOOT=$BUILD/cmboot
[ -x "$SIM" ] || die "$SIM is missing: build the cmboot-sim target"
[ -x "$CMBOOT" ] || die "$CMBOOT is missing: build the cmboot target"
command -v mke2fs >/dev/null || die "mke2fs is missing: install e2fsprogs"

# ---- scenario table: boards (cmboot-sim options per board), QEMU ports, guest script and args ----
BOARDS=()        # one string of cmboot-sim board options per board
PORTS=()         # QEMU port of each board ("1" or "1.1" behind the hub)
HUB=0
GUEST=$SCENARIO
GUEST_ARGS=""
CONTROL=0        # guest's ttyS1 -> cmboot-sim control socket (plug/unplug)
EXPECT_BOOTED=1  # host check: every board reached mass storage with the script complete
EXPECT_VANISHED=0
NVME_LUN=0       # each board's gadget also has an NVMe LUN (LUN 1, nvme$i.img); the guest's image checked there
HOST_FLASH=0     # host makes the image (tests/e2e/flash-images.sh), hands it to the guest, checks the disk after
DISK_MIB=16      # size of each board's disk
GUEST_MEM=512    # the guest's RAM, MiB
THEN=()          # serials of the boards that follow the last board on its port (cmboot-sim --then), disk each
IMAGE_CHECK=0    # host: the image the guest flashed (its E2E-FLASH line) is on every board's disk, even unbooted
BRIDGE=0         # a USB GPIO bridge (cmboot-sim --gpio-bridge, CP2112) on QEMU port 2; boards wired with --wire-*
BRIDGE_ONS="normal rom normal "  # the wired board0's power-ons (cmboot-sim POWER lines), in order
BOOTED_RUN=""    # a wired board powered on several times: the RESULT label of the power-on that must have booted
                 # (board0#K; "RESULT board0" is only the last power-on)
BOOT_RELEASED=0  # host: the bridge's GPIO.0 (nRPIBOOT) reads high at the end
SKIPMODS=""      # guest modules left out (e2e.skipmods=, honoured by guest/init): a host kernel without them
PAYLOAD=mass-storage  # the stage every booted board must reach (STAGE line of the board's report)
ARCH=amd64       # guest architecture: arm64 = qemu-system-aarch64 with Debian's arm64 kernel and busybox
case "$SCENARIO" in
    cm3) BOARDS=("--soc bcm2837"); PORTS=(1) ;;
    cm4) BOARDS=("--soc bcm2711 --serial c4c4b2da"); PORTS=(1); GUEST_ARGS=c4c4b2da ;;
    cm5) BOARDS=("--soc bcm2712 --serial c5c5b2da"); PORTS=(1) ;;
    plug-later) BOARDS=("--soc bcm2837 --plug-later"); PORTS=(1); CONTROL=1 ;;
    hub) BOARDS=("--soc bcm2711 --serial c4000001" "--soc bcm2711 --serial c4000002"); PORTS=(1.1 1.2); HUB=1
         GUEST_ARGS=c4000002 ;;
    hub-parallel) BOARDS=("--soc bcm2837 --serial c3000001" "--soc bcm2837 --serial c3000002"
                          "--soc bcm2711 --serial c4000003" "--soc bcm2712 --serial c5000004")
                  PORTS=(1.1 1.2 1.3 1.4); HUB=1; GUEST_ARGS=c3000001,c3000002,c4000003,c5000004 ;;
    vanish) BOARDS=("--soc bcm2837 --rom-fault vanish-after-bytes=20000"); PORTS=(1); EXPECT_BOOTED=0
            EXPECT_VANISHED=1 ;;
    doctor) BOARDS=("--soc bcm2837 --plug-later"); PORTS=(1); EXPECT_BOOTED=0 ;;
    libusb-control) BOARDS=("--soc bcm2837 --plug-later"); PORTS=(1); CONTROL=1 ;;
    bench) BOARDS=("--soc bcm2837 --plug-later"); PORTS=(1); CONTROL=1 ;;
    bench-line-[1-8])   # bench/line: N boards, SoCs in turn, on the hub; --guest-args N,IMAGE_MIB
        socs=(bcm2711 bcm2837 bcm2712)
        for ((k = 0; k < ${SCENARIO#bench-line-}; k++)); do
            BOARDS+=("--soc ${socs[k % 3]} --serial $(printf 'b1%06x' "$k")"); PORTS+=("1.$((k + 1))")
        done
        HUB=1; GUEST=bench-line; GUEST_ARGS=${SCENARIO#bench-line-},64 ;;
    # bench/flash --usb: one CM4 from ROM to verified; --guest-args IMAGE_MIB[,MAX_SECTORS], --sim-args for the eMMC
    bench-flash) BOARDS=("--soc bcm2711 --serial c4f1a500"); PORTS=(1); GUEST=bench-flash; GUEST_ARGS=64 ;;
    demo) BOARDS=("--soc bcm2837"); PORTS=(1); GUEST=cm3 ;;
    flash-gz) BOARDS=("--soc bcm2837"); PORTS=(1) ;;
    line-4) BOARDS=("--soc bcm2837 --serial c3d00001" "--soc bcm2711 --serial c4d00002"
                    "--soc bcm2712 --serial c5d00003" "--soc bcm2837 --serial c3d00004")
            PORTS=(1.1 1.2 1.3 1.4); HUB=1 ;;
    upstream-tree) BOARDS=("--soc bcm2711 --serial c4a00001" "--soc bcm2837 --serial c3a00002"
                           "--soc bcm2837 --serial c3a00003")
                   PORTS=(1.1 1.2 1.3); HUB=1 ;;
    real-timing) BOARDS=("--soc bcm2837 --two-interfaces --late-config 700 --timing real --plug-later"); PORTS=(1)
                 CONTROL=1 ;;
    lenient) BOARDS=("--soc bcm2711 --serial c4b00001 --script $HERE/scripts/lenient.script --cancel-misaligns")
             PORTS=(1) ;;
    serial) BOARDS=("--soc bcm2711 --serial c4c00001" "--soc bcm2712 --serial c5c00002"); PORTS=(1.1 1.2); HUB=1
            GUEST_ARGS=c4c00001,c5c00002 ;;
    no-done) BOARDS=("--soc bcm2837 --no-done"); PORTS=(1); EXPECT_BOOTED=0; EXPECT_VANISHED=1 ;;
    flash-xz|flash-bmap) BOARDS=("--soc bcm2837"); PORTS=(1); HOST_FLASH=1 ;;
    # Issue 13: a CM5 whose next stage is the fastboot gadget, flashed through usbfs by a guest whose kernel has
    # neither usb-storage nor sd_mod; the gadget's mmcblk0 is the board's disk file.
    fastboot) BOARDS=("--soc bcm2712 --serial c5fb0001 --after-done fastboot"); PORTS=(1); HOST_FLASH=1
              SKIPMODS=usb-storage,sd_mod; PAYLOAD=fastboot ;;
    fastboot-nofetch) BOARDS=("--soc bcm2712 --serial c5fb0002 --after-done fastboot --fastboot-no-fetch"); PORTS=(1)
                      HOST_FLASH=1; SKIPMODS=usb-storage,sd_mod; PAYLOAD=fastboot ;;
    line-tty) BOARDS=("--soc bcm2837 --serial c3f00001" "--soc bcm2711 --serial c4f00002"); PORTS=(1.1 1.2); HUB=1 ;;
    already-msd) BOARDS=("--soc bcm2711 --serial c4d00001 --start-stage mass-storage"); PORTS=(1); EXPECT_BOOTED=0
                 IMAGE_CHECK=1 ;;
    line-loop) BOARDS=("--soc bcm2711 --serial c4e00001 --plug-later"); PORTS=(1); CONTROL=1; THEN=(c4e00002 c4e00003)
               EXPECT_BOOTED=0; IMAGE_CHECK=1 ;;
    two-luns) BOARDS=("--soc bcm2711 --serial c4d00001" "--soc bcm2711 --serial c4d00002"); PORTS=(1.1 1.2)
              HUB=1; NVME_LUN=1 ;;
    gpio-bridge) BOARDS=("--soc bcm2837 --serial c3f00001 --wire-boot 0 --wire-power 1"); PORTS=(1); BRIDGE=1
                 EXPECT_BOOTED=0; GUEST_ARGS=c3f00001 ;;
    gpio-cycle) BOARDS=("--soc bcm2837 --serial c3f00001 --wire-boot 0 --wire-power 1"); PORTS=(1); BRIDGE=1
                EXPECT_BOOTED=0; IMAGE_CHECK=1; DISK_MIB=48; BRIDGE_ONS="normal rom normal rom "; BOOTED_RUN="#2"
                BOOT_RELEASED=1 ;;
    hook-cycle) BOARDS=("--soc bcm2837 --serial c3f00001 --start-stage normal"); PORTS=(1); CONTROL=1
                EXPECT_BOOTED=0; IMAGE_CHECK=1; BOOTED_RUN="#2" ;;
    arm64-host) BOARDS=("--soc bcm2711 --serial c4a64001"); PORTS=(1); ARCH=arm64 ;;
    *) die "unknown scenario '$SCENARIO'" ;;
esac
[ $HAVE_GUEST_ARGS -eq 1 ] && GUEST_ARGS=$GUEST_ARGS_OVERRIDE
# bench/line: the disk holds the image (second field of N,IMAGE_MIB) and a little more.
[ "$GUEST" = bench-line ] && DISK_MIB=$(( ${GUEST_ARGS#*,} + 8 ))
# bench-flash: the image lives in the guest's RAM (tmpfs takes at most half of it).
[ "$GUEST" = bench-flash ] && DISK_MIB=$(( ${GUEST_ARGS%%,*} + 8 )) && GUEST_MEM=$(( 512 + 2 * ${GUEST_ARGS%%,*} ))

# ---- guest image (cached by input hash) ----
GUEST_BUILD=(--out "$BUILD/e2e-guest")
QEMU_MACHINE=()
CONSOLE=ttyS0
[ -n "$CMBOOT_OVERRIDE" ] && CMBOOT=$CMBOOT_OVERRIDE
if [ "$ARCH" = arm64 ]; then
    # An ARM host: the cross-built cmboot (scripts/cross-build.sh arm64) in an emulated arm64 machine (TCG).
    QEMU=$(command -v qemu-system-aarch64) || die "qemu-system-aarch64 is missing: install qemu-system-arm"
    [ -n "$CMBOOT_OVERRIDE" ] || CMBOOT=$(dirname "$BUILD")/build-arm64/cmboot
    [ -x "$CMBOOT" ] || die "$CMBOOT is missing: run scripts/cross-build.sh arm64"
    readelf -h "$CMBOOT" | grep -q AArch64 || die "$CMBOOT is not an arm64 binary"
    ROOT_OUT=$("$HERE/arm64-root.sh" --out "$BUILD/e2e-arm64") || die "arm64 kernel/busybox download failed"
    GUEST_BUILD=(--out "$BUILD/e2e-guest-arm64" --root "${ROOT_OUT#ROOT=}" --triplet aarch64-linux-gnu)
    QEMU_MACHINE=(-machine virt -cpu cortex-a57)
    CONSOLE=ttyAMA0
fi
GUEST_OUT=$("$HERE/build-guest.sh" "${GUEST_BUILD[@]}" --cmboot "$CMBOOT") || die "guest image build failed"
KERNEL=$(echo "$GUEST_OUT" | sed -n 's/^KERNEL=//p')
INITRD=$(echo "$GUEST_OUT" | sed -n 's/^INITRD=//p')
{ [ -r "$KERNEL" ] && [ -r "$INITRD" ]; } || die "guest build gave no kernel/initrd"

WORK=$BUILD/e2e-work/$SCENARIO
rm -rf "$WORK"
mkdir -p "$WORK"
# Short socket paths (sun_path is 108 bytes): a private directory under /tmp, linked from WORK.
SOCKDIR=$(mktemp -d /tmp/cmboot-e2e.XXXXXX)
SIM_PID=""
QEMU_PID=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
    rm -rf "$SOCKDIR"
}
trap cleanup EXIT

# ---- one disk image per board: an ext2 file system with a file the guest reads back ----
SIM_ARGS=(--link "$LINK" --log "$WORK/sim.log" --report "$WORK/sim.report")
[ $CONTROL -eq 1 ] && SIM_ARGS+=(--control "$SOCKDIR/ctl.sock")
# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
QEMU_USB=(-device qemu-xhci,id=xhci)
# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
[ $HUB -eq 1 ] && QEMU_USB+=(-device usb-hub,bus=xhci.0,port=1,id=hub)
if [ $BRIDGE -eq 1 ]; then
    SIM_ARGS+=(--gpio-bridge "$SOCKDIR/bridge.sock")
    # shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
    QEMU_USB+=(-chardev "socket,id=usbredirgpio,path=$SOCKDIR/bridge.sock"
               -device "usb-redir,chardev=usbredirgpio,id=redirgpio,bus=xhci.0,port=2")
fi
for i in "${!BOARDS[@]}"; do
    mkdir -p "$WORK/disk$i.d" "$WORK/received$i"
    echo "hello from the host, board $i" > "$WORK/disk$i.d/hello.txt"
    mke2fs -q -F -t ext2 -L "board$i" -d "$WORK/disk$i.d" "$WORK/disk$i.img" "${DISK_MIB}M" || die "mke2fs failed"
    # shellcheck disable=SC2206
    SIM_ARGS+=(--socket "$SOCKDIR/b$i.sock" ${BOARDS[$i]} $SIM_EXTRA --disk "$WORK/disk$i.img" --save-dir "$WORK/received$i")
    if [ $NVME_LUN -eq 1 ]; then
        head -c 33554432 /dev/urandom > "$WORK/nvme$i.img" || die "cannot make nvme$i.img"
        cp "$WORK/disk$i.img" "$WORK/disk$i.before"
        cp "$WORK/nvme$i.img" "$WORK/nvme$i.before"
        SIM_ARGS+=(--lun "$WORK/nvme$i.img,kind=nvme")
    fi
    QEMU_USB+=(-chardev "socket,id=usbredir$i,path=$SOCKDIR/b$i.sock"
               -device "usb-redir,chardev=usbredir$i,id=redir$i,bus=xhci.0,port=${PORTS[$i]}")
done

# The boards that follow the last one on its port: a disk each.
for k in "${!THEN[@]}"; do
    mke2fs -q -F -t ext2 -L "then$k" "$WORK/then$k.img" "${DISK_MIB}M" || die "mke2fs failed"
    SIM_ARGS+=(--then "${THEN[$k]}:$WORK/then$k.img")
done

if [ $HOST_FLASH -eq 1 ]; then
    # shellcheck source=SCRIPTDIR/flash-images.sh
    . "$HERE/flash-images.sh"
    flash_prepare   # the image in /e2e-data appended to INITRD; disk0.before kept
fi

echo "== scenario $SCENARIO: ${#BOARDS[@]} board(s), work dir $WORK"
"$SIM" "${SIM_ARGS[@]}" &
SIM_PID=$!
for _ in $(seq 100); do
    ok=1
    for i in "${!BOARDS[@]}"; do [ -S "$SOCKDIR/b$i.sock" ] || ok=0; done
    [ $BRIDGE -eq 1 ] && { [ -S "$SOCKDIR/bridge.sock" ] || ok=0; }
    [ $ok -eq 1 ] && break
    kill -0 "$SIM_PID" 2>/dev/null || die "cmboot-sim exited at start: $(tail -5 "$WORK/sim.log")"
    sleep 0.05
done
[ "$ok" -eq 1 ] || die "cmboot-sim did not create its sockets"

SERIALS=(-serial stdio)
[ $CONTROL -eq 1 ] && SERIALS+=(-serial "unix:$SOCKDIR/ctl.sock")
T0=$(date +%s.%N)
QEMU_CMD=("$QEMU" "${QEMU_MACHINE[@]}" -accel tcg -m "$GUEST_MEM" -smp 1 -nic none -no-reboot -display none -monitor none
          -kernel "$KERNEL" -initrd "$INITRD"
          -append "console=$CONSOLE quiet panic=-1 e2e.scenario=$GUEST e2e.args=$GUEST_ARGS${SKIPMODS:+ e2e.skipmods=$SKIPMODS}"
          "${SERIALS[@]}" "${QEMU_USB[@]}")
echo "${QEMU_CMD[*]}" > "$WORK/qemu.cmd"
if [ $LIVE -eq 1 ]; then
    timeout "$TIMEOUT" "${QEMU_CMD[@]}" < /dev/null 2> "$WORK/qemu.err" | tee "$WORK/console.log"
    QRC=${PIPESTATUS[0]}
else
    timeout "$TIMEOUT" "${QEMU_CMD[@]}" < /dev/null > "$WORK/console.log" 2> "$WORK/qemu.err" &
    QEMU_PID=$!
    wait "$QEMU_PID"
    QRC=$?
    QEMU_PID=""
fi
T1=$(date +%s.%N)
# cmboot-sim leaves by itself once QEMU closed its sockets; give it a moment, then stop it.
for _ in $(seq 50); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.1; done
kill "$SIM_PID" 2>/dev/null
wait "$SIM_PID" 2>/dev/null
SIM_PID=""

FAILED=0
fail() { echo "E2E FAIL [$SCENARIO]: $*"; FAILED=1; }
echo "== VM ran $(echo "$T1 - $T0" | bc 2>/dev/null || echo '?') s (qemu exit $QRC)"
[ "$QRC" -eq 124 ] && fail "QEMU timed out after $TIMEOUT s"
[ -s "$WORK/qemu.err" ] && { echo "-- qemu stderr:"; cat "$WORK/qemu.err"; }
RESULT=$(grep -a "^E2E-RESULT $GUEST " "$WORK/console.log" | tail -1 | tr -d '\r')
[ -n "$RESULT" ] || fail "the guest printed no E2E-RESULT line"
case "$RESULT" in *" PASS"*) ;; *) fail "guest: ${RESULT:-none}" ;; esac

# ---- host-side checks on what the boards saw ----
# The image the guest flashed (its E2E-FLASH line) must be on a board's disk file, byte for byte.
image_on_disk() {
    local fl size want have
    fl=$(grep -a '^E2E-FLASH ' "$WORK/console.log" | tr -d '\r')
    size=$(echo "$fl" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
    want=$(echo "$fl" | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p')
    have=$(head -c "${size:-0}" "$2" | sha256sum | cut -d' ' -f1)
    if [ -n "$want" ] && [ "$have" = "$want" ]; then
        echo "== $1 image file matches the flashed image ($size bytes)"
    else
        fail "$1: the disk image differs from the flashed image"
    fi
}
[ -s "$WORK/sim.report" ] || fail "cmboot-sim wrote no report"
for i in "${!BOARDS[@]}"; do
    line=$(grep "^RESULT board$i " "$WORK/sim.report")
    if [ $EXPECT_BOOTED -eq 1 ]; then
        case "$line" in *"rom_accepted=1 "*"script_complete=1 "*"failures=0 "*) ;;
            *) fail "board$i did not boot cleanly: $line" ;; esac
        if [ "$PAYLOAD" = mass-storage ]; then
            grep -q "^STAGE board$i mass-storage\|^STAGE board$i MASS" "$WORK/sim.report" ||
                grep -qi "^STAGE board$i .*mass" "$WORK/sim.report" || fail "board$i never reached mass storage"
        else
            grep -q "^STAGE board$i $PAYLOAD " "$WORK/sim.report" || fail "board$i never reached its $PAYLOAD stage"
            ! grep -qi "^STAGE board$i .*mass" "$WORK/sim.report" || fail "board$i came up as mass storage too"
        fi
        # Every file the guest hashed and the board received must be identical.
        while read -r _ name sum; do
            f="$WORK/received$i/$name"
            [ -f "$f" ] || continue
            got=$(sha256sum "$f" | cut -d' ' -f1)
            [ "$got" = "$sum" ] || fail "board$i received a different $name"
        done < <(grep -a '^E2E-FILE ' "$WORK/console.log" | tr -d '\r')
        if [ $HOST_FLASH -eq 1 ]; then
            flash_check "$i" || fail "board$i: the disk is not what flashing the image must give"
        elif [ $NVME_LUN -eq 1 ]; then
            # Board 0 refused: both files as they were. Board 1: the image on the NVMe file, the eMMC untouched.
            cmp -s "$WORK/disk$i.img" "$WORK/disk$i.before" || fail "board$i: the eMMC LUN's file changed"
            if [ "$i" -eq 0 ]; then
                cmp -s "$WORK/nvme$i.img" "$WORK/nvme$i.before" || fail "board$i: the NVMe LUN's file changed"
            else
                fl=$(grep -a '^E2E-FLASH ' "$WORK/console.log" | tr -d '\r')
                size=$(echo "$fl" | sed -n 's/.*size=\([0-9]*\).*/\1/p')
                head -c "${size:-0}" "$WORK/nvme$i.img" > "$WORK/nvme$i.head"
                want=$(echo "$fl" | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p')
                have=$(sha256sum < "$WORK/nvme$i.head" | cut -d' ' -f1)
                { [ -n "$want" ] && [ "$have" = "$want" ]; } || fail "board$i: the NVMe file differs from the image"
                # past the image the NVMe file is as it was
                tail -c +"$(( ${size:-0} + 1 ))" "$WORK/nvme$i.img" | cmp -s - <(tail -c +"$(( ${size:-0} + 1 ))" "$WORK/nvme$i.before") ||
                    fail "board$i: the NVMe file changed past the image"
            fi
            echo "== board$i backing files checked (eMMC untouched$([ "$i" -eq 0 ] && echo ', NVMe untouched' || echo ', NVMe holds the image'))"
        elif [ "$GUEST" = flash-gz ] || [ "$GUEST" = arm64-host ] || [ "$GUEST" = bench-line ] || [ "$GUEST" = bench-flash ] || [ "$GUEST" = line-4 ] || [ "$GUEST" = line-tty ]; then
            image_on_disk "board$i" "$WORK/disk$i.img"
        elif [ "$GUEST" != bench ] && [ "$GUEST" != libusb-control ]; then
            back=$(debugfs -R 'cat /from-guest.txt' "$WORK/disk$i.img" 2>/dev/null)
            [ -n "$back" ] || fail "board$i: the guest's write is not in the host's image file"
            echo "== board$i image now holds from-guest.txt: $back"
        fi
    fi
    if [ $EXPECT_VANISHED -eq 1 ]; then
        case "$line" in *"vanished=1 "*) ;; *) fail "board$i was expected to vanish: $line" ;; esac
    fi
done
if [ -n "$SKIPMODS" ]; then
    # The guest's init left out exactly these modules (its E2E-SKIPMODS line); the guest script checked that
    # /sys/module has none of them, so the run cannot have used them.
    want=$(echo "$SKIPMODS" | tr -- '-,' '_\n' | sort | tr '\n' ' ')
    sk=$(grep -a '^E2E-SKIPMODS ' "$WORK/console.log" | tr -d '\r')
    got=$(echo "$sk" | sed -n 's/.* skipped=//p' | tr ',' '\n' | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "the guest did not leave out exactly '$want': '${sk:-no E2E-SKIPMODS line}'"
    echo "== guest ran without $want ($sk)"
fi
if [ "$PAYLOAD" = fastboot ]; then
    # The guest's report (its E2E-NOTE line): written through the gadget; read back with fetch: and verified,
    # or, from a gadget without fetch:, "written" and never "verified".
    rep=$(grep -a "^E2E-NOTE $GUEST .* report {" "$WORK/console.log" | tail -1 | tr -d '\r')
    case "$rep" in *'"via":"fastboot"'*'"result":"ok"'*) ;; *) fail "the report does not say ok via fastboot: ${rep:-none}" ;; esac
    # Each key on its own: the report's key order is not part of its contract.
    has() { case "$rep" in *"$1"*) return 0 ;; esac; return 1; }
    if [ "$SCENARIO" = fastboot-nofetch ]; then
        for k in '"verified":false' '"read_back":false' '"disk_state":"written"'; do
            has "$k" || fail "the report does not say written, not read back ($k missing): $rep"
        done
    else
        for k in '"verified":true' '"read_back":true' '"disk_state":"verified"'; do
            has "$k" || fail "the report does not say verified by read-back ($k missing): $rep"
        done
    fi
    echo "== report: $(echo "$rep" | grep -o '"verified":[a-z]*\|"read_back":[a-z]*\|"disk_state":"[a-z]*"\|"via_reason":"[^"]*"' | tr '\n' ' ')"
fi
if [ $IMAGE_CHECK -eq 1 ]; then
    for i in "${!BOARDS[@]}"; do image_on_disk "board$i" "$WORK/disk$i.img"; done
    for k in "${!THEN[@]}"; do image_on_disk "then$k (${THEN[$k]})" "$WORK/then$k.img"; done
fi
if [ $BRIDGE -eq 1 ]; then
    # The bridge took GPIO writes and refused nothing; board0 was powered on into the ROM, then normal mode,
    # and the guest saw exactly those stages, in that order.
    bl=$(grep '^BRIDGE ' "$WORK/sim.report")
    case "$bl" in *" refused=0 "*) ;; *) fail "the bridge refused requests: ${bl:-no BRIDGE line}" ;; esac
    case "$bl" in *" gpio_sets=0 "*|"") fail "the guest never set a GPIO: ${bl:-no BRIDGE line}" ;; esac
    ons=$(grep '^POWER board0 .* on ' "$WORK/sim.report" | sed 's/.*stage=//' | tr '\n' ' ')
    [ "$ons" = "$BRIDGE_ONS" ] || fail "board0 power-ons: '$ons', want '$BRIDGE_ONS'"
    if [ "$SCENARIO" = gpio-bridge ]; then
        stages=$(grep '^STAGE board0 ' "$WORK/sim.report" | cut -d' ' -f3 | tr '\n' ' ')
        [ "$stages" = "normal rom normal " ] || fail "board0 stages on the bus: '$stages', want 'normal rom normal '"
    fi
    if [ $BOOT_RELEASED -eq 1 ]; then
        lv=$(echo "$bl" | sed -n 's/.* levels=0x\([0-9a-f]*\).*/\1/p')
        { [ -n "$lv" ] && [ $((0x$lv & 1)) -eq 1 ]; } || fail "nRPIBOOT (GPIO.0) is asserted at the end: $bl"
        echo "== bridge: nRPIBOOT released at the end (levels 0x$lv)"
    fi
    echo "== bridge: $bl"
fi
if [ "$SCENARIO" = hook-cycle ]; then
    # The hooks' "boot 0 usb|normal" and "unplug/plug 0": a power-on into the ROM, then one into normal mode.
    ons=$(grep '^POWER board0 .* on ' "$WORK/sim.report" | sed 's/.*stage=//' | tr '\n' ' ')
    [ "$ons" = "rom normal " ] || fail "board0 power-ons: '$ons', want 'rom normal '"
fi
if [ -n "$BOOTED_RUN" ]; then
    # The power-on that booted to mass storage for the flash: ROM accepted, script complete, no failure.
    line=$(grep "^RESULT board0$BOOTED_RUN " "$WORK/sim.report")
    case "$line" in *"rom_accepted=1 "*"script_complete=1 "*"failures=0 "*) ;;
        *) fail "board0 power-on $BOOTED_RUN did not boot cleanly: ${line:-no such RESULT line}" ;; esac
    echo "== board0 power-on $BOOTED_RUN booted cleanly"
fi
if [ $FAILED -ne 0 ]; then
    echo "-- console (last 60 lines):"; tail -n 60 "$WORK/console.log"
    echo "-- cmboot-sim log (last 40 lines):"; tail -n 40 "$WORK/sim.log"
    exit 1
fi
grep -a '^E2E-NOTE\|^E2E-BENCH' "$WORK/console.log" | tr -d '\r'
grep '^STAGE' "$WORK/sim.report"
echo "E2E PASS [$SCENARIO] $RESULT"
exit 0
