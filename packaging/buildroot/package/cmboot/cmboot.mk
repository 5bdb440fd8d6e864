################################################################################
#
# cmboot
#
################################################################################

CMBOOT_VERSION = 0.2.0
# This BR2_EXTERNAL tree lives in cmboot's own source tree (packaging/buildroot).
CMBOOT_SITE = $(BR2_EXTERNAL_CMBOOT_PATH)/../..
CMBOOT_SITE_METHOD = local
CMBOOT_INSTALL_STAGING = YES
CMBOOT_DEPENDENCIES = \
	host-pkgconf \
	bzip2 \
	expat \
	json-c \
	libarchive \
	libgpiod \
	libusb \
	openssl \
	sqlite \
	xz \
	zlib \
	zstd
# No tests (cmocka), no emulator, no -Werror for a toolchain newer than ours, no man page (no scdoc).
CMBOOT_CONF_OPTS = \
	-DCMBOOT_TESTS=OFF \
	-DCMBOOT_SIM=OFF \
	-DCMBOOT_WERROR=OFF \
	-DCMBOOT_MAN=off

# Records to PostgreSQL (libpq) when buildroot builds it; else a postgresql:// location is unsupported.
ifeq ($(BR2_PACKAGE_POSTGRESQL),y)
CMBOOT_DEPENDENCIES += postgresql
CMBOOT_CONF_OPTS += -DCMBOOT_POSTGRESQL=ON
else
CMBOOT_CONF_OPTS += -DCMBOOT_POSTGRESQL=OFF
endif

ifeq ($(BR2_INIT_SYSTEMD),y)
CMBOOT_CONF_OPTS += -DCMBOOT_SYSTEMD=ON
else
CMBOOT_CONF_OPTS += -DCMBOOT_SYSTEMD=OFF
endif

$(eval $(cmake-package))
