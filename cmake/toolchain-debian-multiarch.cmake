# Shared part of the Debian cross toolchain files: compiler <triplet>-gcc, libraries and .pc files from the
# multiarch directories (/usr/lib/<triplet>), and tests run under qemu-user with the cross libc as its root.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${CMBOOT_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${CMBOOT_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${CMBOOT_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${CMBOOT_CROSS_TRIPLET})

# The multiarch -dev packages live in the host's /usr: search it for the target's files, never run its programs.
set(CMAKE_FIND_ROOT_PATH /usr/${CMBOOT_CROSS_TRIPLET} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: only the target's .pc files (the host's would hand out x86_64 libraries). Environment variables
# because FindPkgConfig runs the host's pkg-config; try-compile projects inherit them.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${CMBOOT_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Test programs (ctest) run under qemu-user (binfmt may not be registered in a container). No -L: the :<arch>
# -dev packages bring libc6:<arch>, whose loader (/lib/ld-linux-*.so) matches the multiarch libc; the cross
# toolchain's loader (/usr/<triplet>/lib) with that libc is a different glibc build, and threads then hang.
find_program(CMBOOT_CROSS_QEMU_PROGRAM ${CMBOOT_CROSS_QEMU})
if(CMBOOT_CROSS_QEMU_PROGRAM)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CMBOOT_CROSS_QEMU_PROGRAM})
endif()
