// Package server is the composition root: it turns a Config into a running
// node (store → runtime → invoker → gateway and admin API → HTTP listener)
// and stops it in the reverse order. It listens as soon as the store is
// open and loads what is deployed behind the listener (Loaded), starting
// queue consumers and the workflow engine once that is done. Only this
// package picks a store backend.
package server
