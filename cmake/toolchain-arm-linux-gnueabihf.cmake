# Cross build for 32-bit ARM Linux (hard float, armhf) with Debian's cross toolchain (crossbuild-essential-armhf)
# and the :armhf -dev packages installed through multiarch (scripts/cross-build.sh armhf installs both).
set(CMBOOT_CROSS_TRIPLET arm-linux-gnueabihf)
set(CMBOOT_CROSS_PROCESSOR arm)
set(CMBOOT_CROSS_QEMU qemu-arm-static)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian-multiarch.cmake)
