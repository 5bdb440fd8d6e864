/* libcmboot umbrella header. */
#ifndef CMBOOT_CMBOOT_H
#define CMBOOT_CMBOOT_H
#include "cmboot/version.h"
#include "cmboot/error.h"
#include "cmboot/log.h"
#include "cmboot/clock.h"
#include "cmboot/soc.h"
#include "cmboot/transport.h"
#include "cmboot/device.h"
#include "cmboot/protocol.h"
#include "cmboot/files.h"
#include "cmboot/metadata.h"
#include "cmboot/session.h"
#include "cmboot/control.h"
#endif
