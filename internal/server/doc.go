// Package server is the hub's composition root. New picks every backend in
// one place (backends.go) from the configuration, logs each choice, and
// wires the rooms service, the WebSocket gateway and the HTTP API onto one
// mux with /healthz, /readyz and /metrics. Run serves until its context
// ends and then drains: it stops accepting, closes WebSockets with 1001,
// lets in-flight commands and requests finish, and closes the backends.
//
// servertest starts a real hub on 127.0.0.1:0 for integration tests.
package server
