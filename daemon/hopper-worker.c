/* hopper-worker.c — the converter worker as its own small binary.
 *
 * `hopper-worker --worker [--memory-limit N] ...` is what the pool starts
 * (pool.c finds it next to hopperd). It links only what conversion needs
 * (the converters, the chunker, frames, the sandbox: CONVERT_LIBS in the
 * Makefile), not libpq, libsystemd or liburing, so a worker starts faster
 * and carries less into the sandbox; and hopperd, which does not carry
 * the worker code, links no converter at all (`hopperd --worker` execs this).
 */
#include <stdio.h>
#include <string.h>

#include "hopper/ocr.h"
#include "hopper/pool.h"

int main(int argc, char **argv)
{
	/* The pool starts workers with OMP_THREAD_LIMIT=1 already; started
	 * any other way, this re-executes with it (see ocr.h). */
	hp_ocr_single_thread(argv);
	if (argc < 2 || strcmp(argv[1], "--worker") != 0) {
		fprintf(stderr, "hopper-worker is started by hopperd (hopper-worker --worker ...), "
		                "not by hand: use `hopper convert FILE` to convert a file\n");
		return 2;
	}
	return hp_worker_exec_main(argc, argv);
}
