/* embed.c — see include/hopper/embed.h
 *
 * One state machine, driven by one inner epoll set that holds libcurl's
 * sockets, the database socket and a timerfd for every deadline (curl's own
 * timeouts, backoff, the next look for work):
 *
 *   connect ─▶ recover ─▶ claim ─▶ (no work: wait, then claim again)
 *                           │
 *                           ▼
 *                 POST batches, `concurrency` at once, retry with backoff
 *                           │
 *                           ▼
 *                 store vectors + mark documents, one statement ─▶ claim
 *
 * The database is spoken to one statement at a time (PQsendQueryParams on
 * a nonblocking connection); a lost connection goes back to connect, with
 * backoff, and the claimed documents wait for their lease.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/embed.h"

#define LEASE_S 300           /* a claimed document is ours this long */
#define IDLE_POLL_MS 2000     /* no work: look again after this */
#define RESPONSE_MAX (256u << 20)
#define ERROR_MAX 300

/* Tags in the inner epoll set's data.u64 (high 32 bits), fd in the low 32. */
enum { TAG_TIMER = 1, TAG_PG = 2, TAG_CURL = 3 };

typedef enum pg_state {
	PG_DOWN,        /* not connected; reconnect at retry_at */
	PG_CONNECTING,  /* PQconnectPoll in progress */
	PG_IDLE,        /* connected, nothing in flight */
	PG_BUSY,        /* one statement in flight */
} pg_state;

typedef enum step {
	STEP_RECOVER,   /* take back this node's leases of a previous run */
	STEP_CLAIM,     /* look for documents to embed */
	STEP_POST,      /* requests in flight */
	STEP_STORE,     /* vectors and marks in flight */
	STEP_PRUNE,     /* all embedded: drop other models' rows */
} step;

typedef struct doc {
	int64_t id;
	size_t first, n;    /* its chunks: chunks[first .. first + n) */
	char *error;        /* set: this document failed (permanent) or must retry */
	bool permanent;
} doc;

typedef struct chunk {
	size_t doc;         /* index into docs */
	int ordinal;
	char *text;
	char *vector;       /* "{0.1,0.2,...}" once embedded */
} chunk;

typedef struct request {
	hp_embed *e;
	CURL *easy;
	size_t first, n;    /* chunks of this request */
	int tries;
	uint64_t retry_at;  /* 0: not waiting */
	hp_buf body, response;
	long retry_after_s;
	bool active;        /* in the multi handle */
	bool done;
} request;

struct hp_embed {
	char *url, *model, *owner, *conninfo, *auth_header;
	int batch, dims, concurrency;
	long timeout_ms;
	int epfd, tfd;
	CURLM *multi;
	struct curl_slist *headers;
	uint64_t curl_deadline;    /* 0 = none */
	PGconn *pg;
	pg_state pgs;
	int pg_events;             /* what the pg fd is registered for */
	int pg_backoff_ms;
	uint64_t pg_retry_at;
	step step;
	uint64_t next_claim_at;
	bool announced_down;
	/* the claimed set */
	doc *docs;
	size_t n_docs;
	chunk *chunks;
	size_t n_chunks;
	request *reqs;
	size_t n_reqs;
	size_t next_chunk;         /* first chunk not yet in a request */
	/* counters for STATUS */
	uint64_t docs_done, docs_failed, docs_retry, requests_retried;
	bool all_done;
	bool said_storage;      /* the storage of vectors was logged */
};

static uint64_t jitter(uint64_t ms)
{
	unsigned r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
		r = (unsigned)hp_now_ms();
	return ms / 2 + (ms ? r % (ms / 2 + 1) : 0);
}

/* ---- deadlines ----------------------------------------------------------- */

static void arm_timer(hp_embed *e)
{
	uint64_t at = 0;
#define EARLIEST(t) do { if ((t) && (!at || (t) < at)) at = (t); } while (0)
	EARLIEST(e->curl_deadline);
	if (e->pgs == PG_DOWN)
		EARLIEST(e->pg_retry_at);
	if (e->step == STEP_CLAIM && e->pgs == PG_IDLE)
		EARLIEST(e->next_claim_at);
	for (size_t i = 0; i < e->n_reqs; i++)
		if (!e->reqs[i].done && !e->reqs[i].active)
			EARLIEST(e->reqs[i].retry_at);
#undef EARLIEST
	struct itimerspec its = { 0 };
	if (at) {
		uint64_t now = hp_now_ms();
		uint64_t in = at > now ? at - now : 1;
		its.it_value.tv_sec = (time_t)(in / 1000);
		its.it_value.tv_nsec = (long)(in % 1000) * 1000000L;
	}
	timerfd_settime(e->tfd, 0, &its, NULL);
}

/* ---- libcurl's sockets and timer ----------------------------------------- */

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	hp_embed *e = userp;
	struct epoll_event ev = { .data.u64 = ((uint64_t)TAG_CURL << 32) | (uint32_t)s };
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT)
		epoll_ctl(e->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	hp_embed *e = userp;
	e->curl_deadline = timeout_ms < 0 ? 0 : hp_now_ms() + (uint64_t)timeout_ms;
	arm_timer(e);
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *userp)
{
	request *rq = userp;
	return hp_buf_add(&rq->response, p, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
	request *rq = userp;
	size_t len = size * n;
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		rq->retry_after_s = strtol(p + 12, NULL, 10);
	return len;
}

/* ---- the database -------------------------------------------------------- */

static void pg_watch(hp_embed *e, int events)
{
	int fd = e->pg ? PQsocket(e->pg) : -1;
	if (fd < 0 || events == e->pg_events)
		return;
	struct epoll_event ev = { .events = (uint32_t)events, .data.u64 = ((uint64_t)TAG_PG << 32) | (uint32_t)fd };
	if (e->pg_events == 0)
		epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
	else
		epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev);
	e->pg_events = events;
}

static void pg_lost(hp_embed *e, const char *why)
{
	if (!e->announced_down)
		hp_warn("embeddings: database connection lost (%s); retrying", why);
	e->announced_down = true;
	if (e->pg) {
		if (e->pg_events && PQsocket(e->pg) >= 0)
			epoll_ctl(e->epfd, EPOLL_CTL_DEL, PQsocket(e->pg), NULL);
		PQfinish(e->pg);
	}
	e->pg = NULL;
	e->pg_events = 0;
	e->pgs = PG_DOWN;
	e->pg_backoff_ms = e->pg_backoff_ms ? (e->pg_backoff_ms * 2 > 30000 ? 30000 : e->pg_backoff_ms * 2) : 500;
	e->pg_retry_at = hp_now_ms() + jitter((uint64_t)e->pg_backoff_ms);
	/* What was claimed waits for its lease; start over from a fresh claim. */
	if (e->step == STEP_STORE || e->step == STEP_PRUNE)
		e->step = STEP_CLAIM;
}

static void pg_connect(hp_embed *e)
{
	e->pg = hp_db_connect_start(e->conninfo);
	if (!e->pg || PQstatus(e->pg) == CONNECTION_BAD) {
		pg_lost(e, e->pg ? PQerrorMessage(e->pg) : "out of memory");
		return;
	}
	e->pgs = PG_CONNECTING;
	pg_watch(e, EPOLLOUT);
}

static void pg_poll_connect(hp_embed *e)
{
	switch (PQconnectPoll(e->pg)) {
	case PGRES_POLLING_READING: pg_watch(e, EPOLLIN); break;
	case PGRES_POLLING_WRITING: pg_watch(e, EPOLLOUT); break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(e->pg, 1) < 0) {
			pg_lost(e, "cannot make the connection nonblocking");
			return;
		}
		if (e->announced_down)
			hp_notice("embeddings: database connection back");
		e->announced_down = false;
		e->pg_backoff_ms = 0;
		e->pgs = PG_IDLE;
		pg_watch(e, EPOLLIN);
		break;
	default:
		pg_lost(e, PQerrorMessage(e->pg));
	}
}

/* Send one statement; its result arrives in on_result. */
static void pg_send(hp_embed *e, const char *sql, int n, const char *const *vals)
{
	if (!PQsendQueryParams(e->pg, sql, n, NULL, vals, NULL, NULL, 0)) {
		pg_lost(e, PQerrorMessage(e->pg));
		return;
	}
	e->pgs = PG_BUSY;
	int f = PQflush(e->pg);
	if (f < 0)
		pg_lost(e, PQerrorMessage(e->pg));
	else
		pg_watch(e, EPOLLIN | (f == 1 ? EPOLLOUT : 0));
}

/* ---- the claimed set ----------------------------------------------------- */

static void set_clear(hp_embed *e)
{
	for (size_t i = 0; i < e->n_reqs; i++) {
		request *rq = &e->reqs[i];
		if (rq->easy) {
			if (rq->active)
				curl_multi_remove_handle(e->multi, rq->easy);
			curl_easy_cleanup(rq->easy);
		}
		hp_buf_free(&rq->body);
		hp_buf_free(&rq->response);
	}
	free(e->reqs);
	e->reqs = NULL;
	e->n_reqs = 0;
	for (size_t i = 0; i < e->n_chunks; i++) {
		free(e->chunks[i].text);
		free(e->chunks[i].vector);
	}
	free(e->chunks);
	e->chunks = NULL;
	e->n_chunks = 0;
	for (size_t i = 0; i < e->n_docs; i++)
		free(e->docs[i].error);
	free(e->docs);
	e->docs = NULL;
	e->n_docs = 0;
	e->next_chunk = 0;
}

static void doc_error(hp_embed *e, size_t d, bool permanent, const char *fmt, ...) HP_PRINTF(4, 5);
static void doc_error(hp_embed *e, size_t d, bool permanent, const char *fmt, ...)
{
	if (e->docs[d].error && e->docs[d].permanent)
		return;
	free(e->docs[d].error);
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&e->docs[d].error, fmt, ap) < 0)
		e->docs[d].error = NULL;
	va_end(ap);
	e->docs[d].permanent = permanent;
}

/* Rows of the claim: document_id, ordinal (NULL: no chunks), content. */
static int take_claim(hp_embed *e, PGresult *res)
{
	int n = PQntuples(res);
	e->chunks = calloc((size_t)n + 1, sizeof *e->chunks);
	e->docs = calloc((size_t)n + 1, sizeof *e->docs);
	if (!e->chunks || !e->docs)
		return -ENOMEM;
	for (int r = 0; r < n; r++) {
		int64_t id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		if (e->n_docs == 0 || e->docs[e->n_docs - 1].id != id)
			e->docs[e->n_docs++] = (doc){ .id = id, .first = e->n_chunks };
		if (PQgetisnull(res, r, 1))
			continue;
		chunk *c = &e->chunks[e->n_chunks];
		c->doc = e->n_docs - 1;
		c->ordinal = atoi(PQgetvalue(res, r, 1));
		c->text = strdup(PQgetvalue(res, r, 2));
		if (!c->text)
			return -ENOMEM;
		e->n_chunks++;
		e->docs[e->n_docs - 1].n++;
	}
	return 0;
}

/* ---- HTTP ------------------------------------------------------------------ */

/* {"model": ..., "input": [texts], "dimensions": N} into body. */
static int build_body(const char *model, int dims, char *const *texts, size_t n, hp_buf *body)
{
	json_object *o = json_object_new_object(), *in = json_object_new_array();
	if (!o || !in) {
		json_object_put(o);
		json_object_put(in);
		return -ENOMEM;
	}
	json_object_object_add(o, "model", json_object_new_string(model));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(in, json_object_new_string(texts[i]));
	json_object_object_add(o, "input", in);
	if (dims)
		json_object_object_add(o, "dimensions", json_object_new_int(dims));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	hp_buf_reset(body);
	int r = s ? hp_buf_addstr(body, s) : -ENOMEM;
	json_object_put(o);
	return r;
}

static int request_body(hp_embed *e, request *rq)
{
	char **texts = calloc(rq->n + 1, sizeof *texts);
	if (!texts)
		return -ENOMEM;
	for (size_t i = 0; i < rq->n; i++)
		texts[i] = e->chunks[rq->first + i].text;
	int r = build_body(e->model, e->dims, texts, rq->n, &rq->body);
	free(texts);
	return r;
}

static int request_start(hp_embed *e, request *rq)
{
	if (!rq->easy && !(rq->easy = curl_easy_init()))
		return -ENOMEM;
	if (!rq->body.data && request_body(e, rq) < 0)
		return -ENOMEM;
	hp_buf_reset(&rq->response);
	rq->retry_after_s = -1;
	CURL *h = rq->easy;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, e->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body.data);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body.len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rq);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, rq);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_PRIVATE, rq);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "hopper");
	if (curl_multi_add_handle(e->multi, h) != CURLM_OK)
		return -EIO;
	rq->active = true;
	rq->retry_at = 0;
	rq->tries++;
	return 0;
}

/* The vectors of a 200 response for n inputs, as array literals
 * "{0.1,...}" into out[0..n) (malloc'd; the caller frees them, also on
 * failure). NULL, or what is wrong with the response. dims: expected
 * length, 0 = any (but the same for all). */
static const char *parse_vectors(const char *body, size_t len, size_t n, int dims, char **out,
                                 char *why, size_t whylen)
{
	json_tokener *tok = json_tokener_new_ex(64);
	json_object *root = tok ? json_tokener_parse_ex(tok, body ? body : "", (int)len) : NULL;
	if (tok)
		json_tokener_free(tok);
	json_object *data = NULL;
	const char *bad = NULL;
	if (!root || !json_object_object_get_ex(root, "data", &data) || !json_object_is_type(data, json_type_array)) {
		bad = "the response is not JSON with a \"data\" array";
		goto out;
	}
	if (json_object_array_length(data) != n) {
		snprintf(why, whylen, "the response has %zu vectors for %zu inputs", json_object_array_length(data), n);
		bad = why;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(data, i), *idx = NULL, *vec = NULL;
		size_t at = i;
		if (json_object_object_get_ex(item, "index", &idx))
			at = (size_t)json_object_get_int64(idx);
		if (at >= n || !json_object_object_get_ex(item, "embedding", &vec) ||
		    !json_object_is_type(vec, json_type_array) || json_object_array_length(vec) == 0) {
			bad = "a \"data\" item has no \"embedding\" array or a bad \"index\"";
			goto out;
		}
		size_t len_v = json_object_array_length(vec);
		if (dims && len_v != (size_t)dims) {
			snprintf(why, whylen, "the model returned %zu dimensions, dimensions = %d", len_v, dims);
			bad = why;
			goto out;
		}
		hp_buf v;
		hp_buf_init(&v, 0);
		hp_buf_addc(&v, '{');
		for (size_t k = 0; k < len_v; k++) {
			json_object *x = json_object_array_get_idx(vec, k);
			if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int)) {
				hp_buf_free(&v);
				bad = "an embedding holds something other than numbers";
				goto out;
			}
			hp_buf_addf(&v, "%s%.9g", k ? "," : "", json_object_get_double(x));
		}
		if (hp_buf_addc(&v, '}') < 0) {
			hp_buf_free(&v);
			bad = "out of memory";
			goto out;
		}
		free(out[at]);
		out[at] = hp_buf_steal(&v);
	}
out:
	json_object_put(root);
	return bad;
}

/* Store the vectors of a 200 response; NULL, or what is wrong with it. */
static const char *take_vectors(hp_embed *e, request *rq, char *why, size_t whylen)
{
	char **out = calloc(rq->n, sizeof *out);
	if (!out)
		return "out of memory";
	const char *bad = parse_vectors(rq->response.data, rq->response.len, rq->n, e->dims, out, why, whylen);
	for (size_t i = 0; i < rq->n; i++) {
		if (!bad) {
			free(e->chunks[rq->first + i].vector);
			e->chunks[rq->first + i].vector = out[i];
		} else {
			free(out[i]);
		}
	}
	free(out);
	return bad;
}

static void request_fail(hp_embed *e, request *rq, bool permanent, const char *why)
{
	rq->done = true;
	for (size_t i = 0; i < rq->n; i++)
		doc_error(e, e->chunks[rq->first + i].doc, permanent, "%s", why);
}

static void request_finished(hp_embed *e, request *rq, CURLcode cc)
{
	long status = 0;
	curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(e->multi, rq->easy);
	rq->active = false;
	char why[ERROR_MAX];
	bool transient;
	if (cc != CURLE_OK) {
		snprintf(why, sizeof why, "embeddings endpoint: %s", curl_easy_strerror(cc));
		transient = true;
	} else if (status == 200) {
		char detail[128];
		const char *bad = take_vectors(e, rq, detail, sizeof detail);
		if (!bad) {
			rq->done = true;
			return;
		}
		snprintf(why, sizeof why, "embeddings endpoint sent a bad response: %s", bad);
		transient = true; /* a server under strain may answer garbage once */
	} else {
		snprintf(why, sizeof why, "embeddings endpoint answered HTTP %ld: %.160s", status,
		         rq->response.data ? rq->response.data : "");
		for (char *p = why; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		transient = status == 429 || status == 408 || status >= 500;
	}
	if (!transient) {
		hp_warn("%s (permanent: %zu chunks' documents fail)", why, rq->n);
		request_fail(e, rq, true, why);
		return;
	}
	if (rq->tries >= HP_EMBED_REQUEST_TRIES) {
		hp_warn("%s; gave up after %d tries, the documents wait for a later attempt", why, rq->tries);
		request_fail(e, rq, false, why);
		return;
	}
	uint64_t wait = rq->retry_after_s >= 0 && rq->retry_after_s <= 300 ? (uint64_t)rq->retry_after_s * 1000
	              : jitter(500ull << rq->tries);
	hp_info("%s; retrying in %" PRIu64 " ms (try %d of %d)", why, wait, rq->tries + 1, HP_EMBED_REQUEST_TRIES);
	e->requests_retried++;
	rq->retry_at = hp_now_ms() + (wait ? wait : 1);
}

static void curl_done_messages(hp_embed *e)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(e->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		request *rq = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
		if (rq)
			request_finished(e, rq, m->data.result);
	}
}

/* Start what may start: new batches up to `concurrency`, retries that are due. */
static void post_more(hp_embed *e)
{
	uint64_t now = hp_now_ms();
	size_t active = 0;
	for (size_t i = 0; i < e->n_reqs; i++)
		active += e->reqs[i].active;
	for (size_t i = 0; i < e->n_reqs && active < (size_t)e->concurrency; i++) {
		request *rq = &e->reqs[i];
		if (!rq->done && !rq->active && rq->retry_at && rq->retry_at <= now) {
			if (request_start(e, rq) < 0)
				request_fail(e, rq, false, "cannot start a request (out of memory)");
			else
				active++;
		}
	}
	while (active < (size_t)e->concurrency && e->next_chunk < e->n_chunks) {
		request *rq = &e->reqs[e->n_reqs++];
		*rq = (request){ .e = e, .first = e->next_chunk };
		rq->n = e->n_chunks - e->next_chunk < (size_t)e->batch ? e->n_chunks - e->next_chunk : (size_t)e->batch;
		hp_buf_init(&rq->body, 0);
		hp_buf_init(&rq->response, RESPONSE_MAX);
		e->next_chunk += rq->n;
		if (request_start(e, rq) < 0)
			request_fail(e, rq, false, "cannot start a request (out of memory)");
		else
			active++;
	}
}

static bool posts_finished(const hp_embed *e)
{
	if (e->next_chunk < e->n_chunks)
		return false;
	for (size_t i = 0; i < e->n_reqs; i++)
		if (!e->reqs[i].done)
			return false;
	return true;
}

/* ---- the steps --------------------------------------------------------------- */

static void send_recover(hp_embed *e)
{
	const char *v[] = { e->model, e->owner };
	/* and how vectors are stored: pgvector when the server lets us switch
	 * to it (lib/sql/011_pgvector.sql), else real[] and the reason */
	pg_send(e, "WITH r AS (UPDATE hopper.embed_state SET state = 'retry', not_before = now(), lease_owner = NULL,"
	           " lease_until = NULL WHERE state = 'running' AND model = $1 AND lease_owner = $2 RETURNING 1)"
	           " SELECT (SELECT count(*) FROM r), hopper.embed_storage(true)", 2, v);
}

static void send_claim(hp_embed *e)
{
	char lim[16], lease[16];
	snprintf(lim, sizeof lim, "%d", e->batch * e->concurrency / 2 > 0 ? e->batch * e->concurrency / 2 : 1);
	snprintf(lease, sizeof lease, "%d", LEASE_S);
	const char *v[] = { e->model, e->owner, lim, lease };
	/* Candidates: documents with no row for the model, rows due for a
	 * retry, and rows whose lease ran out. The upsert takes each only if
	 * no one else took it meanwhile (the WHERE of DO UPDATE), so two
	 * daemons never get the same document. */
	pg_send(e,
		"WITH cand AS ("
		"  (SELECT d.id FROM hopper.documents d WHERE NOT EXISTS (SELECT 1 FROM hopper.embed_state s"
		"     WHERE s.document_id = d.id AND s.model = $1) ORDER BY d.id LIMIT $3)"
		"  UNION (SELECT document_id FROM hopper.embed_state WHERE model = $1 AND state = 'retry'"
		"     AND not_before <= now() ORDER BY not_before LIMIT $3)"
		"  UNION (SELECT document_id FROM hopper.embed_state WHERE model = $1 AND state = 'running'"
		"     AND lease_until < now() ORDER BY lease_until LIMIT $3)"
		"  LIMIT $3"
		"), took AS ("
		"  INSERT INTO hopper.embed_state AS s (document_id, model, state, attempts, lease_owner, lease_until)"
		"  SELECT id, $1, 'running', 1, $2, now() + make_interval(secs => $4::int) FROM cand"
		"  ON CONFLICT (document_id, model) DO UPDATE SET state = 'running', attempts = s.attempts + 1,"
		"    lease_owner = $2, lease_until = excluded.lease_until, updated_at = now()"
		"  WHERE s.state = 'retry' AND s.not_before <= now()"
		"     OR s.state = 'running' AND s.lease_until < now()"
		"  RETURNING document_id"
		") SELECT t.document_id, c.ordinal, c.content FROM took t"
		"  LEFT JOIN hopper.chunks c ON c.document_id = t.document_id"
		"  ORDER BY t.document_id, c.ordinal",
		4, v);
}

/* Arrays for the store statement, as PostgreSQL array literals. */
static int append_array_text(hp_buf *b, const char *s)
{
	int r = hp_buf_addc(b, '"');
	for (; *s && r == 0; s++) {
		if (*s == '"' || *s == '\\')
			r = hp_buf_addc(b, '\\');
		if (r == 0)
			r = hp_buf_addc(b, *s);
	}
	return r < 0 ? r : hp_buf_addc(b, '"');
}

static void send_store(hp_embed *e)
{
	hp_buf ids, ords, vecs, ok, retry, failed, errs;
	hp_buf *all[] = { &ids, &ords, &vecs, &ok, &retry, &failed, &errs };
	for (size_t i = 0; i < HP_ARRAY_SIZE(all); i++) {
		hp_buf_init(all[i], 0);
		hp_buf_addc(all[i], '{');
	}
	bool first = true;
	for (size_t i = 0; i < e->n_chunks; i++) {
		chunk *c = &e->chunks[i];
		if (!c->vector || e->docs[c->doc].error)
			continue;
		hp_buf_addf(&ids, "%s%" PRId64, first ? "" : ",", e->docs[c->doc].id);
		hp_buf_addf(&ords, "%s%d", first ? "" : ",", c->ordinal);
		if (!first)
			hp_buf_addc(&vecs, ',');
		append_array_text(&vecs, c->vector);
		first = false;
	}
	bool f_ok = true, f_retry = true, f_failed = true;
	for (size_t d = 0; d < e->n_docs; d++) {
		doc *x = &e->docs[d];
		if (!x->error) {
			hp_buf_addf(&ok, "%s%" PRId64, f_ok ? "" : ",", x->id);
			f_ok = false;
			e->docs_done++;
		} else if (x->permanent) {
			hp_buf_addf(&failed, "%s%" PRId64, f_failed ? "" : ",", x->id);
			if (!f_failed)
				hp_buf_addc(&errs, ',');
			append_array_text(&errs, x->error);
			f_failed = false;
			e->docs_failed++;
		} else {
			hp_buf_addf(&retry, "%s%" PRId64, f_retry ? "" : ",", x->id);
			f_retry = false;
			e->docs_retry++;
		}
	}
	/* One reason for all documents that wait: the last request's. */
	const char *retry_why = "embeddings endpoint unavailable";
	for (size_t d = 0; d < e->n_docs; d++)
		if (e->docs[d].error && !e->docs[d].permanent)
			retry_why = e->docs[d].error;
	for (size_t i = 0; i < HP_ARRAY_SIZE(all); i++)
		hp_buf_addc(all[i], '}');
	char maxa[16], backoff[16];
	snprintf(maxa, sizeof maxa, "%d", HP_EMBED_DOC_ATTEMPTS);
	snprintf(backoff, sizeof backoff, "%d", 60);
	const char *v[] = { e->model, e->owner, ids.data, ords.data, vecs.data, ok.data,
		            retry.data, failed.data, errs.data, maxa, backoff, retry_why };
	/* Vectors go in only for documents whose lease is still ours; marks
	 * likewise. Rows already there (a retry after a crash) are replaced. */
	pg_send(e,
		"WITH mine AS (SELECT document_id FROM hopper.embed_state WHERE model = $1 AND lease_owner = $2"
		"   AND state = 'running'),"
		" ins AS (INSERT INTO hopper.embeddings (document_id, model, ordinal, vector)"
		"   SELECT t.d, $1, t.o, t.v::real[] FROM unnest($3::bigint[], $4::int[], $5::text[]) AS t(d, o, v)"
		"   WHERE t.d IN (SELECT document_id FROM mine)"
		"   ON CONFLICT (document_id, model, ordinal) DO UPDATE SET vector = excluded.vector, created_at = now()"
		"   RETURNING 1),"
		" ok AS (UPDATE hopper.embed_state SET state = 'done', error = NULL, lease_owner = NULL,"
		"   lease_until = NULL, updated_at = now() WHERE model = $1 AND lease_owner = $2"
		"   AND document_id = ANY($6::bigint[]) RETURNING 1),"
		" later AS (UPDATE hopper.embed_state SET state = CASE WHEN attempts >= $10::int THEN 'failed'"
		"   ELSE 'retry' END, not_before = now() + make_interval(secs => $11::int * attempts), error = $12,"
		"   lease_owner = NULL, lease_until = NULL, updated_at = now() WHERE model = $1 AND lease_owner = $2"
		"   AND document_id = ANY($7::bigint[]) RETURNING 1),"
		" bad AS (UPDATE hopper.embed_state s SET state = 'failed', error = f.err, lease_owner = NULL,"
		"   lease_until = NULL, updated_at = now() FROM unnest($8::bigint[], $9::text[]) AS f(d, err)"
		"   WHERE s.model = $1 AND s.lease_owner = $2 AND s.document_id = f.d RETURNING 1)"
		" SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM ok), (SELECT count(*) FROM later),"
		"   (SELECT count(*) FROM bad)",
		12, v);
	for (size_t i = 0; i < HP_ARRAY_SIZE(all); i++)
		hp_buf_free(all[i]);
}

/* Every document has vectors of this model: drop other models' rows. */
static void send_prune(hp_embed *e)
{
	const char *v[] = { e->model };
	pg_send(e,
		"DELETE FROM hopper.embeddings WHERE model <> $1 AND NOT EXISTS ("
		" SELECT 1 FROM hopper.documents d WHERE NOT EXISTS (SELECT 1 FROM hopper.embed_state s"
		"  WHERE s.document_id = d.id AND s.model = $1 AND s.state IN ('done', 'failed')))",
		1, v);
}

static void on_result(hp_embed *e, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		char msg[512];
		hp_db_message(e->pg, res, msg, sizeof msg);
		hp_warn("embeddings: database: %s", msg);
		set_clear(e);
		e->step = STEP_CLAIM;
		e->next_claim_at = hp_now_ms() + jitter(10000);
		return;
	}
	switch (e->step) {
	case STEP_RECOVER:
		if (!e->said_storage && PQntuples(res) == 1) {
			const char *how = PQgetvalue(res, 0, 1);
			if (strcmp(how, "pgvector") == 0)
				hp_info("embeddings: vectors stored as pgvector's vector, ranked by its cosine distance <=>");
			else
				hp_info("embeddings: vectors stored as %s, cosine by hopper.cosine()", how);
		}
		e->said_storage = true;
		e->step = STEP_CLAIM;
		e->next_claim_at = 0;
		break;
	case STEP_CLAIM:
		if (take_claim(e, res) < 0) {
			hp_err("embeddings: out of memory for a claim of %d rows", PQntuples(res));
			set_clear(e);
			e->next_claim_at = hp_now_ms() + IDLE_POLL_MS;
			break;
		}
		if (e->n_docs == 0) {
			set_clear(e);
			e->step = e->all_done ? STEP_CLAIM : STEP_PRUNE;
			e->next_claim_at = hp_now_ms() + IDLE_POLL_MS;
			break;
		}
		e->all_done = false;
		e->reqs = calloc(e->n_chunks / (size_t)e->batch + 2, sizeof *e->reqs);
		if (!e->reqs) {
			set_clear(e);
			e->next_claim_at = hp_now_ms() + IDLE_POLL_MS;
			break;
		}
		hp_debug("embeddings: claimed %zu documents, %zu chunks", e->n_docs, e->n_chunks);
		e->step = STEP_POST;
		post_more(e);
		break;
	case STEP_STORE:
		hp_debug("embeddings: stored %s vectors; %s documents done, %s later, %s failed",
		         PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
		set_clear(e);
		e->step = STEP_CLAIM;
		e->next_claim_at = 0;
		break;
	case STEP_PRUNE:
		if (atol(PQcmdTuples(res)) > 0)
			hp_info("embeddings: every document has vectors of %s; removed %s rows of other models",
			        e->model, PQcmdTuples(res));
		e->all_done = true;
		e->step = STEP_CLAIM;
		break;
	case STEP_POST:
		break;
	}
}

static void pg_input(hp_embed *e)
{
	if (!PQconsumeInput(e->pg)) {
		pg_lost(e, PQerrorMessage(e->pg));
		return;
	}
	while (e->pgs == PG_BUSY && !PQisBusy(e->pg)) {
		PGresult *res = PQgetResult(e->pg);
		if (!res) {
			e->pgs = PG_IDLE;
			pg_watch(e, EPOLLIN);
			break;
		}
		on_result(e, res);
		PQclear(res);
	}
	if (e->pgs == PG_IDLE && PQstatus(e->pg) == CONNECTION_BAD)
		pg_lost(e, "server closed the connection");
}

/* Whatever the state allows now. */
static void advance(hp_embed *e)
{
	uint64_t now = hp_now_ms();
	if (e->pgs == PG_DOWN && now >= e->pg_retry_at)
		pg_connect(e);
	if (e->step == STEP_POST) {
		post_more(e);
		if (posts_finished(e))
			e->step = STEP_STORE;
	}
	if (e->pgs != PG_IDLE)
		return;
	switch (e->step) {
	case STEP_RECOVER: send_recover(e); break;
	case STEP_CLAIM:
		if (now >= e->next_claim_at)
			send_claim(e);
		break;
	case STEP_STORE: send_store(e); break;
	case STEP_PRUNE: send_prune(e); break;
	case STEP_POST: break;
	}
}

void hp_embed_run(hp_embed *e)
{
	struct epoll_event evs[32];
	int n = epoll_wait(e->epfd, evs, HP_ARRAY_SIZE(evs), 0);
	int running = 0;
	for (int i = 0; i < n; i++) {
		uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
		int fd = (int)(uint32_t)evs[i].data.u64;
		if (tag == TAG_TIMER) {
			uint64_t x;
			if (read(e->tfd, &x, sizeof x) < 0 && errno != EAGAIN)
				hp_debug("embeddings: timerfd: %m");
		} else if (tag == TAG_CURL) {
			int what = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			           (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			           (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
			curl_multi_socket_action(e->multi, fd, what, &running);
		} else if (tag == TAG_PG && e->pg) {
			if (e->pgs == PG_CONNECTING)
				pg_poll_connect(e);
			else if (evs[i].events & EPOLLOUT) {
				int f = PQflush(e->pg);
				if (f < 0)
					pg_lost(e, PQerrorMessage(e->pg));
				else if (f == 0)
					pg_watch(e, EPOLLIN);
			}
			if (e->pg && e->pgs >= PG_IDLE && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				pg_input(e);
		}
	}
	if (e->curl_deadline && hp_now_ms() >= e->curl_deadline) {
		e->curl_deadline = 0;
		curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	curl_done_messages(e);
	advance(e);
	arm_timer(e);
}

int hp_embed_fd(const hp_embed *e)
{
	return e->epfd;
}

void hp_embed_status(const hp_embed *e, char *buf, size_t len)
{
	if (e->pgs == PG_DOWN || e->pgs == PG_CONNECTING)
		snprintf(buf, len, "embeddings: database unreachable, retrying");
	else
		snprintf(buf, len, "embedded %" PRIu64 " document%s%s", e->docs_done, e->docs_done == 1 ? "" : "s",
		         e->step == STEP_POST ? " (sending)" : "");
	if (e->docs_retry || e->docs_failed) {
		size_t l = strlen(buf);
		snprintf(buf + l, len - l, ", %" PRIu64 " to retry, %" PRIu64 " failed", e->docs_retry, e->docs_failed);
	}
}

static char *read_key(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char line[4096] = "";
	char *r = fgets(line, sizeof line, f) ? line : NULL;
	fclose(f);
	if (!r)
		return NULL;
	line[strcspn(line, "\r\n")] = '\0';
	char *key = strdup(line);
	explicit_bzero(line, sizeof line);
	return key;
}

static int curl_ready(void)
{
	static bool ready;
	if (!ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	ready = true;
	return 0;
}

/* The request headers: JSON, and the API key as a Bearer token when
 * api_key_file is set (*ret_auth keeps the header text, to be wiped and
 * freed by the caller). 0 or -errno, logged. */
static int make_headers(const hp_config *cfg, struct curl_slist **ret, char **ret_auth)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char *auth = NULL;
	if (!h)
		return -ENOMEM;
	if (cfg->embed_api_key_file) {
		char *key = read_key(cfg->embed_api_key_file);
		if (!key) {
			hp_err("embeddings: cannot read api_key_file %s: %m", cfg->embed_api_key_file);
			curl_slist_free_all(h);
			return -EACCES;
		}
		if (asprintf(&auth, "Authorization: Bearer %s", key) < 0)
			auth = NULL;
		explicit_bzero(key, strlen(key));
		free(key);
		struct curl_slist *h2 = auth ? curl_slist_append(h, auth) : NULL;
		if (!h2) {
			free(auth);
			curl_slist_free_all(h);
			return -ENOMEM;
		}
		h = h2;
	}
	*ret = h;
	*ret_auth = auth;
	return 0;
}

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

static size_t to_buf(char *p, size_t size, size_t n, void *userp)
{
	return hp_buf_add(userp, p, size * n) < 0 ? 0 : size * n;
}

int hp_embed_text(const hp_config *cfg, const char *text, char **ret_vector, char *err, size_t errlen)
{
	if (!cfg->embed_url || !cfg->embed_model) {
		snprintf(err, errlen, "no [embed] url and model in the configuration: semantic search needs them");
		return -EINVAL;
	}
	struct curl_slist *headers = NULL;
	char *auth = NULL, *vec = NULL;
	hp_buf body, resp;
	hp_buf_init(&body, 0);
	hp_buf_init(&resp, RESPONSE_MAX);
	CURL *h = NULL;
	int r = curl_ready();
	if (r == 0)
		r = make_headers(cfg, &headers, &auth);
	char *texts[] = { (char *)text };
	if (r == 0)
		r = build_body(cfg->embed_model, cfg->embed_dimensions, texts, 1, &body);
	if (r == 0 && !(h = curl_easy_init()))
		r = -ENOMEM;
	if (r < 0) {
		snprintf(err, errlen, "cannot prepare the request: %s", strerror(-r));
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, cfg->embed_url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->embed_timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "hopper");
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "embeddings endpoint: %s", curl_easy_strerror(cc));
		r = -EIO;
	} else if (status != 200) {
		snprintf(err, errlen, "embeddings endpoint answered HTTP %ld: %.160s", status, resp.data ? resp.data : "");
		r = -EIO;
	} else {
		char why[128];
		const char *bad = parse_vectors(resp.data, resp.len, 1, cfg->embed_dimensions, &vec, why, sizeof why);
		if (bad) {
			snprintf(err, errlen, "embeddings endpoint sent a bad response: %s", bad);
			r = -EIO;
		} else {
			*ret_vector = vec;
			vec = NULL;
		}
	}
out:
	free(vec);
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	wipe_free(auth);
	hp_buf_free(&body);
	hp_buf_free(&resp);
	return r;
}

int hp_embed_new(const hp_config *cfg, const char *conninfo, const char *owner, hp_embed **ret)
{
	if (!cfg->embed_url || !cfg->embed_model)
		return -EINVAL;
	if (curl_ready() < 0)
		return -EIO;
	hp_embed *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->epfd = e->tfd = -1;
	int r = -ENOMEM;
	e->url = strdup(cfg->embed_url);
	e->model = strdup(cfg->embed_model);
	e->owner = strdup(owner);
	e->conninfo = strdup(conninfo);
	e->batch = cfg->embed_batch > 0 ? cfg->embed_batch : 64;
	e->dims = cfg->embed_dimensions;
	e->concurrency = cfg->embed_concurrency > 0 ? cfg->embed_concurrency : 2;
	e->timeout_ms = (long)cfg->embed_timeout_ms;
	if (!e->url || !e->model || !e->owner || !e->conninfo)
		goto fail;
	r = make_headers(cfg, &e->headers, &e->auth_header);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	e->multi = curl_multi_init();
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!e->headers || !e->multi || e->epfd < 0 || e->tfd < 0) {
		r = e->epfd < 0 || e->tfd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)TAG_TIMER << 32 };
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->tfd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	e->step = STEP_RECOVER;
	pg_connect(e);
	arm_timer(e);
	hp_info("embeddings: model %s at %s, %d chunks per request, %d at once", e->model, e->url, e->batch,
	        e->concurrency);
	*ret = e;
	return 0;
fail:
	hp_embed_free(e);
	return r;
}

void hp_embed_free(hp_embed *e)
{
	if (!e)
		return;
	set_clear(e);
	if (e->multi)
		curl_multi_cleanup(e->multi);
	curl_slist_free_all(e->headers);
	if (e->pg)
		PQfinish(e->pg);
	if (e->tfd >= 0)
		close(e->tfd);
	if (e->epfd >= 0)
		close(e->epfd);
	wipe_free(e->auth_header);
	free(e->url);
	free(e->model);
	free(e->owner);
	free(e->conninfo);
	free(e);
}
