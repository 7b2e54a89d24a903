/* queue_int.h — what the parts of the job queue share; not a public
 * header (callers use include/hopper/queue.h, the contract).
 *   queue.c           connections and session, running statements, fault
 *                     injection, array parameters, paths, watches,
 *                     wake-ups, hopper.workers
 *   queue_enqueue.c   enqueue; the catch-up set of known versions
 *   queue_claim.c     claims, the claim's plan, leases (renew, release),
 *                     the backlog count
 *   queue_complete.c  dedupe lookups, completion batches (waited for or in
 *                     flight), and the other outcomes of a job: link, fail,
 *                     retry, requeue, forget; `hopper retry`
 * Errors follow queue.h: statements return 0 or a classified -errno and
 * leave the database's words in q->err; nothing here logs, except a row a
 * batch drops (see queue.c).
 */
#ifndef HOPPER_QUEUE_INT_H
#define HOPPER_QUEUE_INT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "hopper/common.h"
#include "hopper/queue.h"

#define HP_Q_NOTIFY_CHANNEL "hopper_jobs"

/* The prepared statements, by index; their SQL is hp_q_sql_* below. */
enum { S_ENQUEUE, S_CLAIM, S_COMPLETE, S_FIND, S_LINK, S_FAIL, S_RETRY, S_REQUEUE, S_FORGET,
       S_RENEW, S_WORKERS, S__N };

struct hp_queue {
	PGconn *conn;
	/* The completion batches' own connection: a batch in flight (its
	 * backend busy storing documents and chunks) never holds up a claim,
	 * a dedupe lookup or an enqueue on conn, and the two backends can
	 * use two cores. */
	PGconn *cconn;
	bool cprepared;           /* S_COMPLETE prepared on cconn */
	char *owner;
	hp_queue_policy pol;
	char *watches;            /* text[] literal of our watch names; NULL = none set */
	bool prepared[S__N];
	char err[1024];           /* the database's words for the last failure */
	char sqlstate[6];         /* its SQLSTATE ("" when libpq made the error) */
	/* the completion batch in flight (hp_queue_complete_start) */
	hp_completion *async_items;
	size_t async_n;
	bool async_busy;          /* sent, result not read yet */
	bool async_done;          /* result read (by a call that had to wait), not yet polled */
	int async_r;
};

/* The statements' SQL, each defined beside the code that runs it. */
extern const char hp_q_sql_enqueue[], hp_q_sql_claim[], hp_q_sql_renew[], hp_q_sql_complete[],
	hp_q_sql_find[], hp_q_sql_link[], hp_q_sql_fail[], hp_q_sql_retry[], hp_q_sql_requeue[],
	hp_q_sql_forget[], hp_q_sql_workers[];

/* Fault injection (HOPPER_FAULT_QUERY): is this statement one to fail;
 * cut the connection c under it. */
bool hp_q_fault_now(void);
void hp_q_fault_cut(PGconn *c);
/* Classify a failed result of connection c (see queue.h), keep its words. */
int hp_q_error(hp_queue *q, PGconn *c, const PGresult *res);
/* Check res of connection c: 0 and *ret_res (caller PQclears; may be
 * NULL: cleared here) or the classified error (res cleared). */
int hp_q_result(hp_queue *q, PGconn *c, PGresult *res, PGresult **ret_res);
/* Run sql, or prepared statement s (prepared on first use), on q->conn;
 * *_count: the rows it touched. */
int hp_q_exec(hp_queue *q, const char *sql, int nparams, const char *const *params, PGresult **ret_res);
int hp_q_stmt(hp_queue *q, int s, int nparams, const char *const *params, PGresult **ret_res);
int hp_q_stmt_count(hp_queue *q, int s, int nparams, const char *const *params);
int hp_q_exec_count(hp_queue *q, const char *sql, int nparams, const char *const *params);
/* Read the result of the completion batch in flight (waiting when wait);
 * -EINPROGRESS while it runs. */
int hp_q_async_finish(hp_queue *q, bool wait);
/* Our watches as a text[] parameter ("{}" when none were set). */
const char *hp_q_watches_param(const hp_queue *q);

/* Array parameters: PostgreSQL's array literal, built in an hp_buf. */
int hp_q_arr_open(hp_buf *b);
int hp_q_arr_text(hp_buf *b, const char *s);
int hp_q_arr_bytea(hp_buf *b, const char *s);
int hp_q_arr_num(hp_buf *b, const char *fmt_num);
int hp_q_arr_i64(hp_buf *b, int64_t v);
int hp_q_arr_u64(hp_buf *b, uint64_t v);
int hp_q_arr_close(hp_buf *b);

#endif
