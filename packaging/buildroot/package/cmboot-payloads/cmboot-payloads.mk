################################################################################
#
# cmboot-payloads
#
################################################################################

CMBOOT_PAYLOADS_VERSION = custom
CMBOOT_PAYLOADS_SITE = $(call qstrip,$(BR2_PACKAGE_CMBOOT_PAYLOADS_PATH))
CMBOOT_PAYLOADS_SITE_METHOD = local
# Raspberry Pi boot firmware is redistributable but not free: the user supplies it and its terms.
CMBOOT_PAYLOADS_LICENSE = PROPRIETARY
CMBOOT_PAYLOADS_REDISTRIBUTE = NO
CMBOOT_PAYLOADS_DIR = $(TARGET_DIR)/usr/share/rpiboot/$(call qstrip,$(BR2_PACKAGE_CMBOOT_PAYLOADS_NAME))

ifeq ($(BR_BUILDING),y)
ifeq ($(BR2_PACKAGE_CMBOOT_PAYLOADS),y)
ifeq ($(call qstrip,$(BR2_PACKAGE_CMBOOT_PAYLOADS_PATH)),)
$(error BR2_PACKAGE_CMBOOT_PAYLOADS_PATH is empty: set it to the directory of the boot files)
endif
ifeq ($(call qstrip,$(BR2_PACKAGE_CMBOOT_PAYLOADS_NAME)),)
$(error BR2_PACKAGE_CMBOOT_PAYLOADS_NAME is empty)
endif
endif
endif

# The build directory also holds buildroot's own .stamp_* and .files-list* files: not boot files.
define CMBOOT_PAYLOADS_INSTALL_TARGET_CMDS
	mkdir -p $(CMBOOT_PAYLOADS_DIR)
	rsync -a --exclude='.stamp_*' --exclude='.files-list*' --exclude='.br_*' \
		$(@D)/ $(CMBOOT_PAYLOADS_DIR)/
endef

$(eval $(generic-package))
