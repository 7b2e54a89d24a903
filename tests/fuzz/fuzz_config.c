/* fuzz_config.c — the configuration parser (include/hopper/config.h).
 *
 * The bytes are a hopper.conf, given to hp_config_load through a memfd
 * (/proc/self/fd/N), with and without HP_CONFIG_NEED_WATCH; what loads is
 * printed (the --check-config path) and freed.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "hopper/config.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("hopper.conf", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	for (unsigned flags = 0; flags <= HP_CONFIG_NEED_WATCH; flags++) {
		hp_config *cfg = NULL;
		if (hp_config_load(path, flags, devnull, &cfg) == 0) {
			hp_config_print(cfg, devnull);
			hp_config_free(cfg);
		}
	}
	close(fd);
	return 0;
}
