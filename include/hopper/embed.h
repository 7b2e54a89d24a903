/* embed.h — chunks to vectors, through an OpenAI-compatible embeddings API.
 *
 * What it does: in the supervisor, when [embed] url is set, finds documents
 * whose chunks have no vectors for the configured model yet, claims them
 * with a lease in hopper.embed_state (so several daemons never embed one
 * document at once, and a restart resumes where it stopped), sends their
 * chunks in batches (`batch` inputs per POST, `concurrency` requests in
 * flight) to `url`, and stores one row per chunk in hopper.embeddings
 * (document_id, model, ordinal, vector: real[], or pgvector's vector when
 * the server has the extension, see lib/sql/011_pgvector.sql), then marks the document
 * done, all in one statement that checks the lease. When every document
 * has vectors for the model, rows of other models are deleted: re-embedding
 * with a new model keeps the old rows until the new set is complete.
 * Faults: HTTP 429 and 5xx, time-outs and connection errors are retried
 * with exponential backoff and jitter (Retry-After honoured); after
 * HP_EMBED_REQUEST_TRIES a request's documents go to state 'retry' for
 * later, and after HP_EMBED_DOC_ATTEMPTS to 'failed' with the reason. Any
 * other 4xx, and a response that is not what the API promises (malformed
 * JSON, wrong count, wrong dimensions), fail those documents with a message.
 * What it never does: block. HTTP is libcurl's multi interface and the
 * database connection is nonblocking libpq on a connection of its own;
 * both are driven from one epoll fd that the event loop watches.
 * Never runs in workers (they have no network and no database).
 */
#ifndef HOPPER_EMBED_H
#define HOPPER_EMBED_H

#include <stddef.h>

#include "hopper/config.h"

#define HP_EMBED_REQUEST_TRIES 6  /* tries of one POST before its documents wait */
#define HP_EMBED_DOC_ATTEMPTS 5   /* claims of one document before it is failed */

typedef struct hp_embed hp_embed;

/* cfg and conninfo are copied from; owner names this daemon in leases
 * (the node name). Returns 0, -EINVAL when cfg has no [embed] url, -errno
 * (the reason is logged). */
int hp_embed_new(const hp_config *cfg, const char *conninfo, const char *owner, hp_embed **ret);
/* An epoll fd: readable when hp_embed_run has something to do (network,
 * database, or a deadline of its own). */
int hp_embed_fd(const hp_embed *e);
/* Do what can be done now; never blocks. */
void hp_embed_run(hp_embed *e);
/* One phrase for STATUS=, e.g. "embedded 120 documents, 2 waiting to retry". */
void hp_embed_status(const hp_embed *e, char *buf, size_t len);
/* For `hopper search --semantic` (the CLI, never the daemon: it blocks up
 * to [embed] timeout): the vector of one text from the configured
 * endpoint, as an array literal "{0.1,...}" (caller frees). 0, or -EINVAL
 * (no [embed] in cfg) / -EIO with a sentence in err. */
int hp_embed_text(const hp_config *cfg, const char *text, char **ret_vector, char *err, size_t errlen);
/* Stop: requests in flight are abandoned; claimed documents are taken back
 * by this node at its next start (or by any node when the lease ends). */
void hp_embed_free(hp_embed *e);

#endif
