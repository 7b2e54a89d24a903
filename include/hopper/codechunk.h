/* codechunk.h — chunks of source code at symbol boundaries (tree-sitter).
 *
 * What it does: takes the Markdown the code converter made of a source file
 * (one fenced block, "```python\n<code>```\n") and cuts the code at the
 * boundaries of its functions, classes, methods and types, as tree-sitter
 * parses them. Languages, by the file's extension or else its "#!" line:
 *   C (.c .h), Python (.py .pyi), JavaScript (.js .mjs .cjs .jsx),
 *   TypeScript (.ts .mts .cts), TSX (.tsx), Go (.go), Rust (.rs),
 *   Java (.java), shell (.sh .bash; #! bash, sh, dash, ksh, zsh),
 *   #! python / node.
 * Each definition becomes a chunk whose heading is its symbol path, the
 * file's base name first: "shop.py > Cart > total". Definitions that
 * contain definitions (a class and its methods, a function and its nested
 * functions, an impl block) stay one chunk when they fit max_tokens;
 * otherwise the container's own lines (signature, fields, docstring) get
 * the container's path and each inner definition its own. A definition
 * with no inner definitions that is over the limit is cut at blank lines,
 * else at line ends, else (one huge line) at characters, in balanced
 * pieces; only these pieces repeat `overlap` tokens of the previous one.
 * Comment lines directly above a definition belong to it. Code between
 * definitions (imports, constants, statements) is grouped up to the limit
 * under the enclosing path ("shop.py" at the top). Definitions below
 * min_tokens are grouped with their small neighbours; a group holding
 * more than one definition gets the enclosing path.
 *
 * Chunk content is fenced again with the document's own opening fence line
 * (so the language stays, and the text renders and embeds as code, as
 * hp_chunk_markdown does for a cut code block); start and end are the
 * bytes of the Markdown the chunk's code covers (inside the fence), plus
 * overlap. tokens counts the content with its fences and is <= max_tokens
 * unless a single character with its fences is larger.
 *
 * Fallback: an unknown language, code over the size cap, a parse over the
 * time limit or a parser that cannot be made give line-window chunks
 * (same cutting rules, heading = the file's base name); the last three log
 * a warning. A syntax error is no fallback: tree-sitter's tree still covers
 * the file, and the definitions it recognises are used. Markdown that is
 * not one fenced block goes to hp_chunk_markdown_opts unchanged.
 *
 * Process rules: one TSParser per language per process, made on first use
 * and kept for the next files (the worker parses under its seccomp filter:
 * memory and the clock only). Not thread-safe.
 */
#ifndef HOPPER_CODECHUNK_H
#define HOPPER_CODECHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "hopper/chunk.h"

/* Parser limits: larger code, or a parse taking longer, is chunked by lines. */
#define HP_CODE_MAX_PARSE_BYTES ((size_t)8 << 20)
#define HP_CODE_PARSE_TIMEOUT_US ((uint64_t)5 * 1000 * 1000)

/* The grammar's name ("python", "c", ...) for a file called name (any
 * directory part ignored) whose code starts with code[0..len), or NULL
 * when no grammar applies. */
const char *hp_code_language(const char *name, const char *code, size_t len);

/* Chunk md[0..len), the code converter's Markdown of the file name (NULL:
 * no name, so no language from the extension; the heading then starts with
 * "code"). Returns 0 with *ret_chunks and *ret_n as hp_chunk_markdown_opts
 * (free with hp_chunks_free; (NULL, 0) for code that is only blank),
 * -EINVAL for bad opts, -ENOMEM. */
int hp_code_chunk(const char *name, const char *md, size_t len, const hp_chunk_opts *opts,
                  hp_chunk **ret_chunks, size_t *ret_n);

/* Tests: replace the parser limits (0 = the default). */
void hp_code_set_limits(size_t max_parse_bytes, uint64_t timeout_us);

#endif
