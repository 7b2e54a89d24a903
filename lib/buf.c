/* buf.c — hp_buf, see include/hopper/common.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"

void hp_buf_init(hp_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->limit = limit ? limit : SIZE_MAX / 2;
}

int hp_buf_reserve(hp_buf *b, size_t n)
{
	if (n > b->limit || b->len > b->limit - n)
		return -EFBIG;
	size_t need = b->len + n + 1; /* + NUL */
	if (need <= b->alloc)
		return 0;
	size_t a = b->alloc ? b->alloc : 64;
	while (a < need)
		a = a > SIZE_MAX / 2 ? need : a * 2;
	char *p = realloc(b->data, a);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->alloc = a;
	return 0;
}

int hp_buf_add(hp_buf *b, const void *p, size_t n)
{
	int r = hp_buf_reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int hp_buf_addstr(hp_buf *b, const char *s)
{
	return hp_buf_add(b, s, strlen(s));
}

int hp_buf_addc(hp_buf *b, char c)
{
	return hp_buf_add(b, &c, 1);
}

int hp_buf_addf(hp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	int r = hp_buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void hp_buf_consume(hp_buf *b, size_t n)
{
	if (n >= b->len) {
		hp_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void hp_buf_reset(hp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *hp_buf_steal(hp_buf *b)
{
	char *p = b->data;
	if (!p)
		p = strdup("");
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

void hp_buf_free(hp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}
