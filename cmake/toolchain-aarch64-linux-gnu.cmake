# Cross build for 64-bit ARM Linux with Debian's cross toolchain (crossbuild-essential-arm64) and the :arm64
# -dev packages installed through multiarch (scripts/cross-build.sh arm64 installs both).
set(CMBOOT_CROSS_TRIPLET aarch64-linux-gnu)
set(CMBOOT_CROSS_PROCESSOR aarch64)
set(CMBOOT_CROSS_QEMU qemu-aarch64-static)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian-multiarch.cmake)
