// tiny.mjs runs both references on small tokenizer.json files that the Go
// test writes (tiny_test.go): they exercise what the real files do not, such
// as lstrip/rstrip/single_word added tokens, Metaspace and Split behaviors.
//
// Usage: node tiny.mjs IN.json OUT.json
//   IN:  {"cases": [{"name", "tokenizer": {...tokenizer.json...}, "texts": [...]}]}
//   OUT: {"cases": [{"name", "results": [{"text", "rust": {...}, "js": {...}}]}]}
// where each of rust and js is {ids, ids_special, text, text_skip_special}
// (the texts decode ids_special), or {error} when it refuses the file.

import { readFileSync, writeFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import { Tokenizer as RustTokenizer } from "tokenizers";

async function rustRun(json, texts) {
  const tok = RustTokenizer.fromString(JSON.stringify(json));
  const out = [];
  for (const text of texts) {
    const ids = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    const special = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    out.push({
      ids,
      ids_special: special,
      text: special.length ? await tok.decode(special, false) : "",
      text_skip_special: special.length ? await tok.decode(special, true) : "",
    });
  }
  return out;
}

function jsRun(json, texts) {
  const tok = new Tokenizer(json, {});
  return texts.map((text) => {
    const special = tok.encode(text, { add_special_tokens: true }).ids;
    const opts = { clean_up_tokenization_spaces: false };
    return {
      ids: tok.encode(text, { add_special_tokens: false }).ids,
      ids_special: special,
      text: special.length ? tok.decode(special, { ...opts, skip_special_tokens: false }) : "",
      text_skip_special: special.length ? tok.decode(special, { ...opts, skip_special_tokens: true }) : "",
    };
  });
}

async function attempt(fn) {
  try {
    return await fn();
  } catch (err) {
    return String(err);
  }
}

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) {
  console.error("usage: node tiny.mjs IN.json OUT.json");
  process.exit(2);
}
const input = JSON.parse(readFileSync(inPath, "utf8"));
const cases = [];
for (const c of input.cases) {
  const rust = await attempt(() => rustRun(c.tokenizer, c.texts));
  const js = await attempt(() => jsRun(c.tokenizer, c.texts));
  cases.push({
    name: c.name,
    results: c.texts.map((text, i) => ({
      text,
      rust: typeof rust === "string" ? { error: rust } : rust[i],
      js: typeof js === "string" ? { error: js } : js[i],
    })),
  });
}
writeFileSync(outPath, JSON.stringify({ cases }));
