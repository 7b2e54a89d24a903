/* test_buf.c — hp_buf (capped growable buffer), hashing, small helpers. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hopper/common.h"
#include "hopper/hash.h"

static void test_append_and_terminate(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_buf_addstr(&b, "abc"), 0);
	assert_int_equal(hp_buf_addc(&b, '-'), 0);
	assert_int_equal(hp_buf_addf(&b, "%d/%s", 42, "x"), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "abc-42/x");
	for (int i = 0; i < 10000; i++)
		assert_int_equal(hp_buf_addc(&b, 'z'), 0);
	assert_int_equal(b.len, 10008);
	assert_int_equal(b.data[b.len], '\0');
	hp_buf_free(&b);
}

static void test_limit(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 8);
	assert_int_equal(hp_buf_addstr(&b, "12345678"), 0);
	/* Over the cap: refused, and the buffer is as it was. */
	assert_int_equal(hp_buf_addc(&b, '9'), -EFBIG);
	assert_int_equal(hp_buf_addf(&b, "%s", "more"), -EFBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(hp_buf_reserve(&b, SIZE_MAX), -EFBIG);
	hp_buf_free(&b);
}

static void test_consume_steal(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	char *empty = hp_buf_steal(&b);
	assert_string_equal(empty, "");
	free(empty);
	hp_buf_addstr(&b, "header:payload");
	hp_buf_consume(&b, 7);
	assert_string_equal(b.data, "payload");
	assert_int_equal(b.len, 7);
	hp_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	hp_buf_addstr(&b, "kept");
	char *s = hp_buf_steal(&b);
	assert_string_equal(s, "kept");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
	hp_buf_free(&b);
}

static void test_sha256(void **state)
{
	char hex[HP_SHA256_HEX_LEN + 1];
	/* FIPS 180-2 test vectors */
	assert_int_equal(hp_sha256_hex("abc", 3, hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(hp_sha256_hex("", 0, hex), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_helpers(void **state)
{
	assert_string_equal(hp_signal_name(SIGSEGV), "SIGSEGV");
	assert_string_equal(hp_signal_name(SIGKILL), "SIGKILL");
	assert_string_equal(hp_signal_name(12345), "an unknown signal");
	char s[32];
	hp_format_size(512, s, sizeof s);
	assert_string_equal(s, "512 B");
	hp_format_size(256u << 20, s, sizeof s);
	assert_string_equal(s, "256.0 MiB");
	assert_null(hp_strdup0(NULL));
}

/* A file name with a newline cannot forge a log line of its own. */
static void test_log_escapes(void **state)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	int saved = dup(STDERR_FILENO);
	dup2(fds[1], STDERR_FILENO);
	hp_log(HP_LOG_WARNING, "%s: bad", "x\n<2>hopperd: forged\ttab\x01");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	char buf[512] = "";
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "<4>x\\n<2>hopperd: forged\\x09tab\\x01: bad\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_terminate),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_consume_steal),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_log_escapes),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
