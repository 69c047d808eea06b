package main

import (
	"context"

	"github.com/modelbar/modelbar/backend/desktop"
)

// App is what the window's UI calls (window.go.main.App): the admin API,
// in process. It is bound to Wails and holds no logic of its own.
type App struct {
	gateway *desktop.Gateway
}

// CallResult is an admin API answer: the HTTP status and the JSON body.
type CallResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// Call sends one admin API request (method, path under /api/, JSON body)
// and returns the answer, as GET/PUT/... on http://127.0.0.1:11500 would.
func (a *App) Call(method, path, body string) CallResult {
	status, resp := a.gateway.CallAdmin(context.Background(), method, path, []byte(body))
	return CallResult{Status: status, Body: string(resp)}
}
