/* watchdog.h — systemd's watchdog (WatchdogSec=), fed by the event loop.
 *
 * What it does: when the service manager asked for a watchdog
 * (WATCHDOG_USEC, sd_watchdog_enabled(3)), sends WATCHDOG=1 at most every
 * half interval, and only from hp_watchdog_turn(), which the supervisor's
 * event loop calls once per turn. A loop that stops turning (a hang, a
 * livelock, a blocking call that never returns) stops the pings, and the
 * service manager kills and restarts the daemon.
 * What it never does: ping from a thread or a timer (that would keep
 * pinging through a hang), or anything when no watchdog was asked for.
 * Test-only trigger: with HOPPER_TEST_HANG=PATH in the environment (the
 * unit never sets it), a turn that finds PATH existing removes it and then
 * hangs for ever, as a loop stuck in a bug would. The file is removed first,
 * so the restarted daemon does not hang again.
 * Process rules: supervisor only, single-threaded.
 */
#ifndef HOPPER_WATCHDOG_H
#define HOPPER_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

/* Read the environment. Returns true when a watchdog is active; then
 * *ret_interval_ms (may be NULL) is the ping interval. */
bool hp_watchdog_init(uint64_t *ret_interval_ms);
/* One turn of the event loop at monotonic time now_ms. */
void hp_watchdog_turn(uint64_t now_ms);

#endif
