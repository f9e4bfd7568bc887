// Package chat holds the leaf types of the hub's wire contract: users, rooms,
// members, messages, events and the error codes with their HTTP statuses and
// WebSocket close codes.
//
// It imports nothing internal, so every other package may depend on it. The
// JSON shape of each type is the shape in docs/protocol.md; changing a tag
// here changes the public contract.
package chat
