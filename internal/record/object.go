package record

import "time"

// ObjectKey names one durable object: the project it belongs to, its class
// and its id (64 lowercase hex digits). Everything an object owns (storage,
// its alarm, its lease) is keyed by all three, so an id is meaningless
// outside its project and class.
type ObjectKey struct {
	Project string
	Class   string
	ID      string
}

func (k ObjectKey) String() string { return k.Class + "/" + k.ID }

// ObjectClass is one class of durable objects a function defines
// (objects: in strata.yaml), stored in the defining function's config.
type ObjectClass struct {
	Name string `json:"name"`
	// IdleTimeoutMS is how long a live object stays in memory with no
	// event before it is evicted (0: the engine's default).
	IdleTimeoutMS int64 `json:"idle_timeout_ms,omitempty"`
	// StorageLimitBytes caps one object's storage, keys and values
	// together (0: the engine's default).
	StorageLimitBytes int64 `json:"storage_limit_bytes,omitempty"`
	// CPUMS bounds the on-CPU time of one event of an object of this
	// class (0: the defining function's cpu_ms applies).
	CPUMS int64 `json:"cpu_ms,omitempty"`
}

// ObjectEntry is one storage key of an object.
type ObjectEntry struct {
	Key   string
	Value []byte
}

// ObjectInfo is what the store knows of one object besides its entries.
type ObjectInfo struct {
	Key       ObjectKey
	Name      string    // the name its id came from, when it was reached by name
	Bytes     int64     // storage held: keys and values
	Keys      int64     // storage keys
	AlarmAt   time.Time // zero: no alarm
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ObjectAlarm is one object's pending alarm.
type ObjectAlarm struct {
	Key      ObjectKey
	At       time.Time // when it is due (the time the object set)
	Attempts int       // failed runs so far
	NextAt   time.Time // when it runs next (At, or later after failures)
}
