// cl100k.cjs — print "<cl100k_base tokens>\t<file>" for each file argument,
// with the npm package gpt-tokenizer (MIT); see tokens.sh.
const { encode } = require('gpt-tokenizer/cjs/encoding/cl100k_base');
const { readFileSync } = require('node:fs');
for (const f of process.argv.slice(2)) {
  const t = readFileSync(f, 'utf8');
  console.log(`${encode(t, { allowedSpecial: 'all' }).length}\t${f}`);
}
