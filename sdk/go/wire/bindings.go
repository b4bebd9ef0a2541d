package wire

// Bindings: the JSON requests and responses of the SQL, KV and fetch host
// calls. Unlike the HTTP request format above these are JSON, because they
// are small, change as bindings grow, and guests in any language can speak
// them with a stock JSON library. Byte slices are base64 (encoding/json's
// default), 64-bit integers travel as decimal strings so that JSON readers
// with float64 numbers (JavaScript) keep them exact, and nothing else is
// lossy: header values that are not UTF-8 switch to base64 (FetchHeader).
//
// The host is internal/bindings; docs/bindings.md describes the calls.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// SQL operations (SQLRequest.Op).
const (
	SQLQuery    = "query"    // run a statement, return its rows
	SQLExec     = "exec"     // run a statement, return rows affected
	SQLBegin    = "begin"    // start a transaction, return its id
	SQLCommit   = "commit"   // commit SQLRequest.Tx
	SQLRollback = "rollback" // roll back SQLRequest.Tx
)

// SQLValue types (SQLValue.Type).
const (
	TypeNull  = "null"
	TypeInt   = "int"
	TypeFloat = "float"
	TypeText  = "text"
	TypeBytes = "bytes"
	TypeBool  = "bool"
	TypeTime  = "time" // Text holds RFC 3339 with nanoseconds
)

// SQLValue is one typed value: an argument or a result cell. Type says
// which field holds it.
type SQLValue struct {
	Type  string  `json:"t"`
	Int   int64   `json:"i,omitempty,string"`
	Float float64 `json:"f,omitempty"`
	// Text holds text, a time (RFC 3339 with nanoseconds) and the floats
	// JSON cannot carry ("NaN", "+Inf", "-Inf").
	Text  string `json:"s,omitempty"`
	Bytes []byte `json:"b,omitempty"`
	Bool  bool   `json:"v,omitempty"`
}

// Null is the SQL NULL.
func Null() SQLValue { return SQLValue{Type: TypeNull} }

// Int is an integer value.
func Int(v int64) SQLValue { return SQLValue{Type: TypeInt, Int: v} }

// Float is a floating-point value. NaN and the infinities, which JSON has
// no numbers for, are carried as text.
func Float(v float64) SQLValue {
	switch {
	case math.IsNaN(v):
		return SQLValue{Type: TypeFloat, Text: "NaN"}
	case math.IsInf(v, 1):
		return SQLValue{Type: TypeFloat, Text: "+Inf"}
	case math.IsInf(v, -1):
		return SQLValue{Type: TypeFloat, Text: "-Inf"}
	}
	return SQLValue{Type: TypeFloat, Float: v}
}

// Text is a string value.
func Text(v string) SQLValue { return SQLValue{Type: TypeText, Text: v} }

// Bytes is a binary value.
func Bytes(v []byte) SQLValue { return SQLValue{Type: TypeBytes, Bytes: v} }

// Bool is a boolean value.
func Bool(v bool) SQLValue { return SQLValue{Type: TypeBool, Bool: v} }

// Time is a point in time, kept with nanoseconds and its offset.
func Time(v time.Time) SQLValue {
	return SQLValue{Type: TypeTime, Text: v.Format(time.RFC3339Nano)}
}

// ValueOf converts a Go value to an SQLValue: nil, any integer (unsigned
// ones up to math.MaxInt64), float32/64, string, []byte, bool, time.Time,
// or an SQLValue itself.
func ValueOf(x any) (SQLValue, error) {
	switch v := x.(type) {
	case nil:
		return Null(), nil
	case SQLValue:
		return v, nil
	case int64:
		return Int(v), nil
	case int:
		return Int(int64(v)), nil
	case int8:
		return Int(int64(v)), nil
	case int16:
		return Int(int64(v)), nil
	case int32:
		return Int(int64(v)), nil
	case uint8:
		return Int(int64(v)), nil
	case uint16:
		return Int(int64(v)), nil
	case uint32:
		return Int(int64(v)), nil
	case uint:
		if uint64(v) > math.MaxInt64 {
			return SQLValue{}, fmt.Errorf("wire: uint %d does not fit an SQL integer", v)
		}
		return Int(int64(v)), nil
	case uint64:
		if v > math.MaxInt64 {
			return SQLValue{}, fmt.Errorf("wire: uint64 %d does not fit an SQL integer", v)
		}
		return Int(int64(v)), nil
	case float64:
		return Float(v), nil
	case float32:
		return Float(float64(v)), nil
	case string:
		return Text(v), nil
	case []byte:
		return Bytes(v), nil
	case bool:
		return Bool(v), nil
	case time.Time:
		return Time(v), nil
	}
	return SQLValue{}, fmt.Errorf("wire: cannot send %T as an SQL value", x)
}

// Any returns the Go value: nil, int64, float64, string, []byte, bool or
// time.Time.
func (v SQLValue) Any() (any, error) {
	switch v.Type {
	case TypeNull:
		return nil, nil
	case TypeInt:
		return v.Int, nil
	case TypeFloat:
		switch v.Text {
		case "":
			return v.Float, nil
		case "NaN":
			return math.NaN(), nil
		case "+Inf":
			return math.Inf(1), nil
		case "-Inf":
			return math.Inf(-1), nil
		}
		return nil, fmt.Errorf("wire: bad float %q", v.Text)
	case TypeText:
		return v.Text, nil
	case TypeBytes:
		if v.Bytes == nil {
			return []byte{}, nil // empty, not NULL: omitempty dropped it
		}
		return v.Bytes, nil
	case TypeBool:
		return v.Bool, nil
	case TypeTime:
		t, err := time.Parse(time.RFC3339Nano, v.Text)
		if err != nil {
			return nil, fmt.Errorf("wire: bad time value: %w", err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("wire: unknown SQL value type %q", v.Type)
}

// SQLRequest is one SQL host call.
type SQLRequest struct {
	Op      string     `json:"op"`           // SQLQuery, SQLExec, SQLBegin, SQLCommit or SQLRollback
	Binding string     `json:"binding"`      // the function's binding name, e.g. "db"
	Tx      string     `json:"tx,omitempty"` // run inside this transaction (from SQLBegin)
	SQL     string     `json:"sql,omitempty"`
	Args    []SQLValue `json:"args,omitempty"` // bound to $1, $2, ... (never interpolated)
}

// SQLColumn describes one result column.
type SQLColumn struct {
	Name string `json:"name"`
	Type string `json:"type"` // the database's type name ("INTEGER", "int8", ""...)
}

// SQLError is an error the database reported: its code (a PostgreSQL
// SQLSTATE such as "23505", or a SQLite extended result code name such as
// "SQLITE_CONSTRAINT_UNIQUE") and its message.
type SQLError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *SQLError) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Message + " (" + e.Code + ")"
}

// SQLResponse answers an SQLRequest. When Error is set the statement
// failed in the database and the other fields are empty.
type SQLResponse struct {
	Columns      []SQLColumn  `json:"columns,omitempty"`
	Rows         [][]SQLValue `json:"rows,omitempty"`
	RowsAffected int64        `json:"rows_affected,omitempty,string"`
	// LastInsertID is SQLite's last inserted rowid after SQLExec (0 on
	// PostgreSQL: use RETURNING).
	LastInsertID int64     `json:"last_insert_id,omitempty,string"`
	Tx           string    `json:"tx,omitempty"` // the new transaction's id (SQLBegin)
	Error        *SQLError `json:"error,omitempty"`
}

// KV operations (KVRequest.Op).
const (
	KVGet    = "get"
	KVPut    = "put"
	KVDelete = "delete"
	KVList   = "list"
)

// KVRequest is one KV host call.
type KVRequest struct {
	Op      string `json:"op"`
	Binding string `json:"binding"` // the function's binding name, e.g. "cache"
	Key     string `json:"key,omitempty"`
	Value   []byte `json:"value,omitempty"`  // KVPut
	TTLMS   int64  `json:"ttl_ms,omitempty"` // KVPut: expire after this many ms (0: never)
	Prefix  string `json:"prefix,omitempty"` // KVList
	After   string `json:"after,omitempty"`  // KVList: keys greater than this (KVResponse.Next)
	Limit   int    `json:"limit,omitempty"`  // KVList: 0 means 1000
}

// KVEntry is one key of a KVList answer.
type KVEntry struct {
	Key         string `json:"key"`
	Value       []byte `json:"value,omitempty"`
	ExpiresAtMS int64  `json:"expires_at_ms,omitempty"` // unix ms; 0: never
}

// KVResponse answers a KVRequest.
type KVResponse struct {
	// Found: KVGet found the key; KVDelete removed a live key.
	Found       bool      `json:"found,omitempty"`
	Value       []byte    `json:"value,omitempty"`
	ExpiresAtMS int64     `json:"expires_at_ms,omitempty"`
	Entries     []KVEntry `json:"entries,omitempty"`
	// Next is the After of the following KVList page; empty at the end.
	Next string `json:"next,omitempty"`
}

// FetchRequest is an outbound HTTP request.
type FetchRequest struct {
	Method    string        `json:"method,omitempty"` // default GET
	URL       string        `json:"url"`
	Headers   []FetchHeader `json:"headers,omitempty"`
	Body      []byte        `json:"body,omitempty"`
	TimeoutMS int64         `json:"timeout_ms,omitempty"` // shortened to the invocation's deadline and 30 s
}

// FetchResponse is the answer to a FetchRequest, after redirects.
type FetchResponse struct {
	Status  int           `json:"status"`
	Headers []FetchHeader `json:"headers,omitempty"`
	Body    []byte        `json:"body,omitempty"`
	URL     string        `json:"url"` // the final URL, after redirects
}

// FetchHeader is one header with its values. Values that are not valid
// UTF-8 (HTTP allows any octet above 0x7f) would be mangled by a JSON
// string, so such a header is encoded with base64 values ("b") instead of
// strings ("v"); the Go value is the same either way.
type FetchHeader struct {
	Name   string
	Values []string
}

type fetchHeaderJSON struct {
	Name   string   `json:"n"`
	Values []string `json:"v,omitempty"`
	Binary [][]byte `json:"b,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (h FetchHeader) MarshalJSON() ([]byte, error) {
	if !utf8.ValidString(h.Name) {
		return nil, fmt.Errorf("wire: header name %q is not UTF-8", h.Name)
	}
	j := fetchHeaderJSON{Name: h.Name}
	binary := false
	for _, v := range h.Values {
		if !utf8.ValidString(v) {
			binary = true
			break
		}
	}
	if binary {
		j.Binary = make([][]byte, len(h.Values))
		for i, v := range h.Values {
			j.Binary[i] = []byte(v)
		}
	} else {
		j.Values = h.Values
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler.
func (h *FetchHeader) UnmarshalJSON(data []byte) error {
	var j fetchHeaderJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	if j.Values != nil && j.Binary != nil {
		return errors.New("wire: header has both v and b values")
	}
	h.Name = j.Name
	h.Values = j.Values
	if j.Binary != nil {
		h.Values = make([]string, len(j.Binary))
		for i, b := range j.Binary {
			h.Values[i] = string(b)
		}
	}
	return nil
}

// String shows a value for messages and tests.
func (v SQLValue) String() string {
	switch v.Type {
	case TypeInt:
		return strconv.FormatInt(v.Int, 10)
	case TypeFloat:
		if v.Text != "" {
			return v.Text
		}
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case TypeText, TypeTime:
		return strconv.Quote(v.Text)
	case TypeBytes:
		return fmt.Sprintf("x'%x'", v.Bytes)
	case TypeBool:
		return strconv.FormatBool(v.Bool)
	case TypeNull:
		return "NULL"
	}
	return "?" + v.Type
}
