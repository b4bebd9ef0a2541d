// Package console is Strata's web console, served at /_strata/console
// wherever the admin API is served: server-rendered HTML (html/template)
// with its stylesheet and a few lines of script embedded in the binary,
// and charts drawn as SVG on the server. Nothing is built with Node.js.
//
// It owns the console's pages, its sessions (an HMAC-signed cookie bound
// to the hash of the token that logged in) and CSRF tokens. It does not
// own any action: rollback, signal, cancel, terminate, restart and
// redrive are requests to the admin API made in-process as the session's
// token (api.WithTokenHash), so the API's scope and project checks and its
// logic are the only ones. Pages read the store directly, each filtered
// to the token's project (project.go says how), except the objects and
// connections pages, which read through the admin API in-process too:
// what they show (live objects, open WebSockets) is known to the node's
// engines, which the API holds (objects.go).
package console
