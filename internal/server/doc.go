// Package server is the composition root: it turns a Config into a running
// node (store → runtime → invoker → gateway and admin API → HTTP listener)
// and stops it in the reverse order. Only this package picks a store
// backend.
package server
