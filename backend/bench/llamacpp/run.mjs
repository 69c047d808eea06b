// Runs a GGUF model on llama.cpp's CPU build through node-llama-cpp and
// times it the way `modelbar bench` times modelbar: the prompt's token ids
// are evaluated in one batch (prefill, up to the first greedy token), then
// `decode` more tokens are generated greedily one at a time (decode).
// Usage: node run.mjs MODEL.gguf '[prompt ids]' DECODE THREADS
// Prints one JSON line: {"prefillMs", "decodeMs", "tokens", "build"}.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, promptJSON, decodeArg, threadsArg] = process.argv.slice(2);
const prompt = JSON.parse(promptJSON);
const decode = Number(decodeArg);
const threads = Number(threadsArg);

// build "never": only the prebuilt binary installed with the package runs;
// nothing is compiled or downloaded.
const llama = await getLlama({gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
    progressLogs: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize: prompt.length + decode + 16, batchSize: prompt.length,
    threads, sequences: 1});
const sequence = context.getSequence();

const tokens = [];
const start = performance.now();
let first = 0;
for await (const token of sequence.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
    if (tokens.length === 0)
        first = performance.now();
    tokens.push(token);
    if (tokens.length > decode)
        break;
}
const end = performance.now();
process.stdout.write(JSON.stringify({prefillMs: first - start, decodeMs: end - first, tokens,
    build: llama.buildType}) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
