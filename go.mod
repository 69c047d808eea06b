module github.com/modelbar/modelbar

go 1.26

require (
	github.com/google/go-cmp v0.7.0
	github.com/keybase/dbus v0.0.0-20220506165403-5aa21ea2c23a
	github.com/keybase/go-keychain v0.0.1
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/sashabaranov/go-openai v1.43.0
)

require golang.org/x/crypto v0.32.0 // indirect
