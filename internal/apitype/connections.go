package apitype

import "time"

// ConnectionInfo is one live WebSocket connection of this node as the API
// shows it (GET /connections).
type ConnectionInfo struct {
	ID       string   `json:"id"`
	Project  string   `json:"project"`
	Function string   `json:"function"`
	Route    string   `json:"route"`            // "GET /chat": the route it came in on
	Object   string   `json:"object,omitempty"` // "class/id" of the durable object that accepted it
	Tags     []string `json:"tags,omitempty"`
	// AttachmentBytes is the size of the data attached to it (the data
	// itself is the object's, and stays out of listings).
	AttachmentBytes int       `json:"attachment_bytes,omitempty"`
	Opened          time.Time `json:"opened"`
	Remote          string    `json:"remote"`
}

// ConnectionList answers GET /connections, oldest first. The connections
// are the answering node's: each node holds its own.
type ConnectionList struct {
	Connections []ConnectionInfo `json:"connections"`
}
