include $(sort $(wildcard $(BR2_EXTERNAL_CMBOOT_PATH)/package/*/*.mk))
