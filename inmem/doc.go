// Package inmem holds in-process implementations of the root interfaces: an
// exact sliding-window Limiter for a single node; the Replica, an in-memory
// copy of the store's clients and keys that keeps the token endpoint off
// the disk; and a bounded ReplayCache of one-time values (the jti of client
// assertions) for a single node.
package inmem
