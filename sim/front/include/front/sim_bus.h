/* In-process frontend of the device emulator: a virtual USB bus behind cmboot_discovery / cmboot_transport. */
#ifndef CMBOOT_SIM_BUS_H
#define CMBOOT_SIM_BUS_H

/*
 * Usage (a whole host session with no USB):
 *
 *     sim_bus *bus;
 *     sim_bus_new(&bus);
 *
 *     sim_config cfg;
 *     sim_config_default(&cfg, CMBOOT_SOC_BCM2711);     // ROM -> second stage -> mass storage 0a5c:0104
 *     cfg.save_dir = "/tmp/received";                  // optional: keep what the host sent
 *     sim_bus_plug(bus, "1-1.3", &cfg, 0);             // present now (plug_at_ms = 0)
 *     sim_bus_plug(bus, "1-2", &cfg, cmboot_now_ms() + 500); // appears 0.5 s later
 *
 *     cmboot_discovery disc;
 *     sim_bus_discovery(bus, &disc);                   // ops->name = "sim"
 *     ... run the host: cmboot_run(ctx, &disc, &boot_cfg, &report), or by hand:
 *         disc.ops->next_event(disc.self, &ev, deadline)  -> ADDED 1-1.3 (ROM, serial index 3)
 *         disc.ops->open(disc.self, &ev.dev, &t)          -> t.ops->control_out / bulk_out / control_in
 *         ... after the ROM status read: REMOVED 1-1.3, then ADDED 1-1.3 (second stage, index 1, new devnum)
 *
 *     sim_bus_wait_stage(bus, "1-1.3", CMBOOT_STAGE_MASS_STORAGE, cmboot_now_ms() + 5000);
 *     sim_result r;
 *     sim_bus_result(bus, "1-1.3", &r);                // r.script_complete, r.failures, r.first_failure
 *
 *     disc.ops->destroy(disc.self);                    // close every transport before sim_bus_free
 *     sim_bus_free(bus);
 *
 * Rules:
 * - Boards are named by port path ("BUS-P[.P]*"). Every (re-)enumeration gets a new devnum on the same
 *   port path; a transport opened on an older devnum, or on a board that vanished, returns
 *   CMBOOT_ERR_NO_DEVICE.
 * - Events are queued in order from sim_bus_new on; a discovery created later first sees ADDED for every
 *   board already present (and every event that happened before, in order).
 * - Time: there is no thread inside the bus. Whoever waits (next_event, a transport call,
 *   sim_bus_wait_stage) advances the boards' clocks (cmboot_now_ms, CLOCK_MONOTONIC) and sleeps on a
 *   condition variable until the earliest of its own deadline and the boards' next wake-up.
 * - Thread-safe: several threads may drive several boards (or the same bus) at once; sim_bus_plug and
 *   sim_bus_unplug may be called from any thread and wake up waiters.
 * - A transport call that the device does not answer (NAK, e.g. the ROM status before the second stage
 *   arrived, or the file server with nothing to ask) waits up to its timeout_ms, then returns
 *   CMBOOT_ERR_TIMEOUT; a STALL returns CMBOOT_ERR_STALL; cancel() makes the waiting call and every later
 *   call return CMBOOT_ERR_CANCELLED.
 * - bulk_out accepts any length per call (1 MiB and more); *actual tells what the device consumed.
 * - Opening a mass-storage or normal-mode stage returns CMBOOT_ERR_UNSUPPORTED (no rpiboot vendor interface;
 *   the SCSI side lives on the QEMU bench). The fastboot gadget opens: bulk_out on 0x01, bulk_in on 0x81
 *   (one transfer per call, NAKed until the gadget has a reply); bulk_in elsewhere is CMBOOT_ERR_UNSUPPORTED.
 * - The bus plays the kernel: it sends SET_CONFIGURATION(1) to each new enumeration (again while a late
 *   configuration NAKs it); ADDED shows num_interfaces 0 until then. A transport binds its bulk OUT endpoint
 *   at open from what the bus shows at that moment, as a real transport claims its interface.
 * - A control transfer still pending at its timeout (or at cancel()) is reported to the device as cancelled
 *   (sim_device_cancel), as libusb cancels it.
 * - ADDED events carry the stage cmboot_stage_of() gives (the fastboot gadget 18d1:4e40: CMBOOT_STAGE_FASTBOOT);
 *   sim_bus_wait_stage waits for the model's stage, SIM_STAGE_FASTBOOT included.
 */

#include <stdint.h>
#include "cmboot/device.h"
#include "model/sim_device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sim_bus sim_bus;

int sim_bus_new(sim_bus **out);
/* Frees the bus and its boards. Every transport and discovery view must be closed/destroyed before. */
void sim_bus_free(sim_bus *bus);

/* Plugs a board built from cfg (copied) at port_path. plug_at_ms: 0 = now, else the cmboot_now_ms time
 * at which it appears. CMBOOT_ERR_BUSY if the port path is taken, CMBOOT_ERR_INVALID_ARG if malformed. */
int sim_bus_plug(sim_bus *bus, const char *port_path, const sim_config *cfg, int64_t plug_at_ms);
/* Pulls the board out for good (REMOVED event; its transports return CMBOOT_ERR_NO_DEVICE). */
int sim_bus_unplug(sim_bus *bus, const char *port_path);

/* A discovery view over the bus (ops->name "sim"). destroy() frees the view only, not the bus. */
int sim_bus_discovery(sim_bus *bus, cmboot_discovery *out);

/* Waits (driving time) until the board at port_path is connected in `stage`. CMBOOT_ERR_TIMEOUT at the
 * deadline, CMBOOT_ERR_NO_DEVICE when the board vanished, CMBOOT_ERR_NOT_FOUND for an unknown path.
 * stage CMBOOT_STAGE_UNKNOWN waits until the board is gone for good. */
int sim_bus_wait_stage(sim_bus *bus, const char *port_path, cmboot_stage stage, int64_t deadline_ms);

/* Copies of what a board recorded (safe while other threads drive the bus). */
int sim_bus_result(sim_bus *bus, const char *port_path, sim_result *out);
/* The board's log of host actions, one line per action, newline separated; truncated to size. */
int sim_bus_log(sim_bus *bus, const char *port_path, char *buf, size_t size);
/* What the board received for a file name (last ReadFile of that name). CMBOOT_ERR_NOT_FOUND if none. */
int sim_bus_file(sim_bus *bus, const char *port_path, const char *name, sim_file_record *out);

/* Runs fn on the board's model with the bus lock held (for anything the copies above do not cover). */
int sim_bus_with_device(sim_bus *bus, const char *port_path, void (*fn)(sim_device *dev, void *user), void *user);

#ifdef __cplusplus
}
#endif
#endif
