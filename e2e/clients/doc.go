// Package clients is modelbar's end-to-end client suite: the real coding
// agents and SDKs (Claude Code, opencode, Continue's CLI, Qwen Code, pi, the
// AI SDK, the OpenAI and Anthropic SDKs), installed from npm at the versions
// pinned in package-lock.json, driven headless through a real `modelbar
// serve` to scripted fake providers of both APIs on loopback (and Codex
// also to the local engine, with a generated random-weight model).
//
// Every client is configured from backend/connect (the snippets README.md
// and the UI show); the suite adds only what isolation needs: a fresh
// home, telemetry and update checks off. Every client runs inside a
// network namespace that has only loopback and under strace: a connect to
// any address outside 127.0.0.0/8 and ::1, or a DNS lookup, fails the case.
//
// The tests are in the _test files; `go test ./...` skips them unless
// MODELBAR_E2E_CLIENTS=1 (`.ci/run` sets it after `npm install --prefix
// e2e/clients`). See README.md, "Connect your tools".
package clients
