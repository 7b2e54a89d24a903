/* attack.c — a converter that attacks its own sandbox (test builds only).
 *
 * Linked into build/tests/attack/hopper-worker, never into build/hopper-worker: it
 * defines hp_test_convert (include/hopper/testhook.h). A job whose file name
 * contains "attack-WHAT." runs one attack from inside a real worker, after
 * the sandbox is in place, exactly as exploited parser code would:
 *   open     open("/etc/passwd")             must fail (the filter answers EACCES)
 *   socket   socket(AF_INET)                 must end the worker
 *   execve   execve("/bin/sh")               must end the worker
 *   ptrace   ptrace(PTRACE_ATTACH, 1)        must end the worker
 *   clone    fork()                          must end the worker
 *   mprotect mprotect(PROT_READ|PROT_EXEC)   must end the worker
 *   stderr   a line with a forged <0> priority on stderr
 *   environ  the environment, as the Markdown of the document
 * An attack the sandbox lets through is reported as a document whose
 * Markdown starts with "ESCAPED:", so the test can tell.
 * Other names are declined (return 1) and converted normally.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/testhook.h"

extern char **environ;

static int escaped(hp_doc **ret_doc, const char *what)
{
	hp_doc *doc = calloc(1, sizeof *doc);
	if (!doc)
		return -ENOMEM;
	size_t n = strlen(what) + 16;
	doc->markdown = malloc(n);
	if (!doc->markdown) {
		free(doc);
		return -ENOMEM;
	}
	doc->markdown_len = (size_t)snprintf(doc->markdown, n, "ESCAPED: %s\n", what);
	doc->format = HP_FMT_TEXT;
	*ret_doc = doc;
	return 0;
}

static int refused(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "attack %s refused: %s", what, strerror(e));
	return -EPERM;
}

static int env_doc(hp_doc **ret_doc)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	int r = hp_buf_add(&b, "environment:\n", 13);
	for (char **e = environ; r == 0 && e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
		r = hp_buf_add(&b, "- ", 2);
		if (r == 0)
			r = hp_buf_add(&b, *e, n);
		if (r == 0)
			r = hp_buf_add(&b, "\n", 1);
	}
	hp_doc *doc = r == 0 ? calloc(1, sizeof *doc) : NULL;
	if (!doc) {
		hp_buf_free(&b);
		return -ENOMEM;
	}
	doc->format = HP_FMT_TEXT;
	doc->markdown_len = b.len;
	doc->markdown = hp_buf_steal(&b);
	*ret_doc = doc;
	return 0;
}

int hp_test_convert(const char *name, const void *data, size_t len, const hp_convert_limits *lim,
                    hp_doc **ret_doc, char *err, size_t errlen)
{
	const char *a = name ? strstr(name, "attack-") : NULL;
	if (!a)
		return 1;
	a += 7;
	if (strncmp(a, "open.", 5) == 0) {
		int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return refused(err, errlen, "open /etc/passwd", errno);
		close(fd);
		return escaped(ret_doc, "opened /etc/passwd");
	}
	if (strncmp(a, "socket.", 7) == 0) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return refused(err, errlen, "socket", errno);
		close(s);
		return escaped(ret_doc, "made an AF_INET socket");
	}
	if (strncmp(a, "execve.", 7) == 0) {
		char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)"exit 0", NULL };
		execve("/bin/sh", argv, environ);
		return refused(err, errlen, "execve /bin/sh", errno);
	}
	if (strncmp(a, "ptrace.", 7) == 0) {
		if (ptrace(PTRACE_ATTACH, (pid_t)1, NULL, NULL) < 0)
			return refused(err, errlen, "ptrace", errno);
		ptrace(PTRACE_DETACH, (pid_t)1, NULL, NULL);
		return escaped(ret_doc, "attached to pid 1 with ptrace");
	}
	if (strncmp(a, "clone.", 6) == 0) {
		pid_t pid = fork();
		if (pid < 0)
			return refused(err, errlen, "fork", errno);
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		return escaped(ret_doc, "forked a child");
	}
	if (strncmp(a, "mprotect.", 9) == 0) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return refused(err, errlen, "mmap", errno);
		if (mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0)
			return refused(err, errlen, "mprotect PROT_EXEC", errno);
		return escaped(ret_doc, "made a page executable");
	}
	if (strncmp(a, "stderr.", 7) == 0) {
		static const char forged[] = "<0>FORGED emergency from a worker\n";
		ssize_t w = write(STDERR_FILENO, forged, sizeof forged - 1);
		(void)w;
		return escaped(ret_doc, "wrote to stderr");
	}
	if (strncmp(a, "environ.", 8) == 0)
		return env_doc(ret_doc);
	(void)data;
	(void)len;
	(void)lim;
	return 1;
}
