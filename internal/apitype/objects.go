package apitype

import "time"

// ObjectInfo is one durable object as GET /objects and GET
// /objects/{class}/{id} show it: what the store records of it, never its
// storage, and whether the answering node holds it in memory.
type ObjectInfo struct {
	Project string `json:"project"`
	Class   string `json:"class"`
	ID      string `json:"id"`
	// Name is the name the id derives from, when the object was reached
	// by name (a route parameter, a stub's name); "" for random ids.
	Name  string `json:"name,omitempty"`
	Bytes int64  `json:"bytes"` // storage held: keys and values
	Keys  int64  `json:"keys"`
	// AlarmAt is when the object's alarm is due; absent: no alarm.
	AlarmAt   *time.Time `json:"alarm_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	// Live: an instance of the object is in memory on the node that
	// answered (another node of a cluster may hold it instead).
	Live bool `json:"live"`
}

// ObjectList answers GET /objects: a page of the project's objects by
// class then id. Next, when set, is the ?after= of the following page.
type ObjectList struct {
	Objects []ObjectInfo `json:"objects"`
	Next    string       `json:"next,omitempty"`
}

// ObjectEntry is one storage key of an object; Value travels as base64
// (storage values are bytes).
type ObjectEntry struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// ObjectStorage answers GET /objects/{class}/{id}/storage without ?key=:
// entries in key order (reversed with ?reverse=1). More: the page was
// cut at its limit and more keys may follow.
type ObjectStorage struct {
	Entries []ObjectEntry `json:"entries"`
	More    bool          `json:"more,omitempty"`
}

// ObjectDeleted answers DELETE /objects/{class}/{id} for an object that
// existed (one that did not is 404).
type ObjectDeleted struct {
	Class   string `json:"class"`
	ID      string `json:"id"`
	Existed bool   `json:"existed"`
}
