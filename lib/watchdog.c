/* watchdog.c — WATCHDOG=1 from the event loop, see include/hopper/watchdog.h */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "hopper/common.h"
#include "hopper/watchdog.h"

static uint64_t interval_ms;   /* 0: no watchdog */
static uint64_t last_ping_ms;
static const char *hang_path;
static uint64_t last_hang_check_ms;

bool hp_watchdog_init(uint64_t *ret_interval_ms)
{
	uint64_t usec = 0;
	/* unset_environment=0: the variables stay for the life of the process
	 * (a reload keeps pinging); children never see them (hp_env_scrub_service). */
	int r = sd_watchdog_enabled(0, &usec);
	interval_ms = r > 0 && usec >= 2000 ? usec / 2000 : 0; /* half the timeout */
	last_ping_ms = 0;
	hang_path = getenv("HOPPER_TEST_HANG");
	if (hang_path && !*hang_path)
		hang_path = NULL;
	if (interval_ms)
		hp_debug("watchdog: WATCHDOG=1 every %llu ms from the event loop",
		         (unsigned long long)interval_ms);
	if (ret_interval_ms)
		*ret_interval_ms = interval_ms;
	return interval_ms != 0;
}

static void maybe_hang(uint64_t now_ms)
{
	if (!hang_path || now_ms - last_hang_check_ms < 200)
		return;
	last_hang_check_ms = now_ms;
	if (unlink(hang_path) < 0)
		return;
	hp_warn("HOPPER_TEST_HANG: %s found, the event loop hangs now (test trigger)", hang_path);
	for (;;)
		pause();
}

void hp_watchdog_turn(uint64_t now_ms)
{
	maybe_hang(now_ms);
	if (!interval_ms || (last_ping_ms && now_ms - last_ping_ms < interval_ms))
		return;
	last_ping_ms = now_ms;
	sd_notify(0, "WATCHDOG=1");
}
