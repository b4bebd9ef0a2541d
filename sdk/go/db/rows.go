package db

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Rows is the result of a query, read with Next and Scan:
//
//	for rows.Next() {
//		if err := rows.Scan(&id, &name); err != nil { ... }
//	}
//	if err := rows.Err(); err != nil { ... }
type Rows struct {
	cols   []wire.SQLColumn
	rows   [][]wire.SQLValue
	n      int // 1 + the index of the current row; 0 before the first Next
	closed bool
	err    error
}

// Next advances to the next row and reports whether there is one.
func (r *Rows) Next() bool {
	if r.closed || r.err != nil || r.n >= len(r.rows) {
		r.closed = true
		return false
	}
	r.n++
	return true
}

// Columns returns the column names.
func (r *Rows) Columns() []string {
	names := make([]string, len(r.cols))
	for i, c := range r.cols {
		names[i] = c.Name
	}
	return names
}

// ColumnTypes returns the database's type name of each column ("INTEGER",
// "int8", "timestamptz"; empty for a SQLite expression).
func (r *Rows) ColumnTypes() []string {
	types := make([]string, len(r.cols))
	for i, c := range r.cols {
		types[i] = c.Type
	}
	return types
}

// Err returns the error that stopped iteration, if any. The rows arrive
// whole, so it is only ever a Scan error recorded by Row.
func (r *Rows) Err() error { return r.err }

// Close ends the iteration. It never fails; it exists so code written for
// database/sql reads the same.
func (r *Rows) Close() error {
	r.closed = true
	return nil
}

// Values returns the current row as Go values: nil, int64, float64,
// string, []byte, bool or time.Time.
func (r *Rows) Values() ([]any, error) {
	row, err := r.current()
	if err != nil {
		return nil, err
	}
	out := make([]any, len(row))
	for i, v := range row {
		if out[i], err = v.Any(); err != nil {
			return nil, r.colErr(i, err)
		}
	}
	return out, nil
}

func (r *Rows) current() ([]wire.SQLValue, error) {
	if r.closed {
		return nil, errors.New("db: Rows are closed")
	}
	if r.n == 0 {
		return nil, errors.New("db: Scan called without calling Next")
	}
	return r.rows[r.n-1], nil
}

func (r *Rows) colErr(i int, err error) error {
	name := ""
	if i < len(r.cols) {
		name = r.cols[i].Name
	}
	return fmt.Errorf("db: Scan column %d (%q): %w", i, name, err)
}

// Scan copies the current row's columns into dest, one pointer per
// column. Accepted: *int, *int8, *int16, *int32, *int64, *uint, *uint8,
// *uint16, *uint32, *uint64, *float32, *float64, *string, *[]byte, *bool,
// *time.Time, *any, anything with a Scan(src any) error method (db.Null,
// and database/sql's NullString and friends), and a pointer to a pointer
// of these (**string), which is set to nil for NULL.
//
// Conversions are strict but useful: an integer fits any integer type it
// does not overflow; a whole float fits an integer; text parses into
// numbers, bools and times (RFC 3339, or SQLite's "2006-01-02 15:04:05");
// SQLite's 0 and 1 scan into *bool; anything scans into *string and
// *[]byte. A NULL only goes into *any, *[]byte (nil), a Scanner or a **T;
// anywhere else it is an error that says so.
func (r *Rows) Scan(dest ...any) error {
	row, err := r.current()
	if err != nil {
		return err
	}
	if len(dest) != len(row) {
		return fmt.Errorf("db: Scan: %d destinations for %d columns", len(dest), len(row))
	}
	for i, d := range dest {
		if err := assign(d, row[i]); err != nil {
			return r.colErr(i, err)
		}
	}
	return nil
}

// Row is the result of QueryRow.
type Row struct {
	rows *Rows
	err  error
}

// Scan copies the first row's columns into dest (see Rows.Scan). It
// returns ErrNoRows when the query returned none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		return ErrNoRows
	}
	return r.rows.Scan(dest...)
}

// Err returns the query's error, if any, without scanning.
func (r *Row) Err() error { return r.err }

// Scanner is a destination that converts a value itself. src is nil,
// int64, float64, string, []byte, bool or time.Time. database/sql's Null
// types satisfy it.
type Scanner interface {
	Scan(src any) error
}

// Null is a value that may be NULL; Valid is false for NULL.
//
//	var email db.NullString
//	row.Scan(&email)
//	if email.Valid { ... email.V ... }
type Null[T any] struct {
	V     T
	Valid bool
}

// Scan implements Scanner.
func (n *Null[T]) Scan(src any) error {
	if src == nil {
		var zero T
		n.V, n.Valid = zero, false
		return nil
	}
	v, err := wire.ValueOf(src)
	if err != nil {
		return err
	}
	if err := assign(&n.V, v); err != nil {
		return err
	}
	n.Valid = true
	return nil
}

// Value returns V, or nil when not Valid; use it as a query argument.
func (n Null[T]) Value() any {
	if !n.Valid {
		return nil
	}
	return n.V
}

// Nullable values of the common types.
type (
	NullString  = Null[string]
	NullInt64   = Null[int64]
	NullFloat64 = Null[float64]
	NullBool    = Null[bool]
	NullTime    = Null[time.Time]
	NullBytes   = Null[[]byte]
)

// timeLayouts are the forms a time stored as text is read in: RFC 3339,
// what SQLite's date functions and CURRENT_TIMESTAMP write, and Go's
// time.Time.String, which the SQLite driver on the host writes for a
// time.Time argument.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("text %q is not a time", s)
}

// assign converts v into the destination pointer d.
func assign(d any, v wire.SQLValue) error {
	if s, ok := d.(Scanner); ok {
		x, err := v.Any()
		if err != nil {
			return err
		}
		return s.Scan(x)
	}
	if v.Type == wire.TypeNull {
		switch p := d.(type) {
		case *any:
			*p = nil
			return nil
		case *[]byte:
			*p = nil
			return nil
		}
		if rv := reflect.ValueOf(d); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Pointer {
			rv.Elem().SetZero()
			return nil
		}
		return fmt.Errorf("NULL into %T (scan into a db.Null, a *%T or *any)", d, d)
	}
	switch p := d.(type) {
	case *any:
		x, err := v.Any()
		if err != nil {
			return err
		}
		*p = x
		return nil
	case *string:
		s, err := asString(v)
		*p = s
		return err
	case *[]byte:
		if v.Type == wire.TypeBytes {
			*p = append([]byte{}, v.Bytes...)
			return nil
		}
		s, err := asString(v)
		*p = []byte(s)
		return err
	case *bool:
		b, err := asBool(v)
		*p = b
		return err
	case *time.Time:
		t, err := asTime(v)
		*p = t
		return err
	case *float64:
		f, err := asFloat(v)
		*p = f
		return err
	case *float32:
		f, err := asFloat(v)
		*p = float32(f)
		return err
	case *int64:
		n, err := asInt(v, 64)
		*p = n
		return err
	case *int:
		n, err := asInt(v, strconv.IntSize)
		*p = int(n)
		return err
	case *int32:
		n, err := asInt(v, 32)
		*p = int32(n)
		return err
	case *int16:
		n, err := asInt(v, 16)
		*p = int16(n)
		return err
	case *int8:
		n, err := asInt(v, 8)
		*p = int8(n)
		return err
	case *uint64:
		n, err := asUint(v, 64)
		*p = n
		return err
	case *uint:
		n, err := asUint(v, strconv.IntSize)
		*p = uint(n)
		return err
	case *uint32:
		n, err := asUint(v, 32)
		*p = uint32(n)
		return err
	case *uint16:
		n, err := asUint(v, 16)
		*p = uint16(n)
		return err
	case *uint8:
		n, err := asUint(v, 8)
		*p = uint8(n)
		return err
	case nil:
		return errors.New("destination is nil")
	}
	// **T: allocate a T and convert into it.
	rv := reflect.ValueOf(d)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Pointer {
		inner := reflect.New(rv.Elem().Type().Elem())
		if err := assign(inner.Interface(), v); err != nil {
			return err
		}
		rv.Elem().Set(inner)
		return nil
	}
	return fmt.Errorf("unsupported destination %T", d)
}

func asString(v wire.SQLValue) (string, error) {
	switch v.Type {
	case wire.TypeText, wire.TypeTime:
		return v.Text, nil
	case wire.TypeBytes:
		return string(v.Bytes), nil
	}
	x, err := v.Any()
	if err != nil {
		return "", err
	}
	switch x := x.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("%s value into a string", v.Type)
}

func asBool(v wire.SQLValue) (bool, error) {
	switch v.Type {
	case wire.TypeBool:
		return v.Bool, nil
	case wire.TypeInt:
		// SQLite has no boolean type: it stores 0 and 1.
		switch v.Int {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return false, fmt.Errorf("integer %d into a bool (want 0 or 1)", v.Int)
	case wire.TypeText:
		b, err := strconv.ParseBool(v.Text)
		if err != nil {
			return false, fmt.Errorf("text %q into a bool", v.Text)
		}
		return b, nil
	}
	return false, fmt.Errorf("%s value into a bool", v.Type)
}

func asTime(v wire.SQLValue) (time.Time, error) {
	switch v.Type {
	case wire.TypeTime:
		return time.Parse(time.RFC3339Nano, v.Text)
	case wire.TypeText:
		return parseTime(v.Text)
	}
	return time.Time{}, fmt.Errorf("%s value into a time.Time (store times as text or use a time column)", v.Type)
}

func asFloat(v wire.SQLValue) (float64, error) {
	switch v.Type {
	case wire.TypeFloat:
		x, err := v.Any()
		if err != nil {
			return 0, err
		}
		return x.(float64), nil
	case wire.TypeInt:
		return float64(v.Int), nil
	case wire.TypeText:
		f, err := strconv.ParseFloat(v.Text, 64)
		if err != nil {
			return 0, fmt.Errorf("text %q into a float", v.Text)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%s value into a float", v.Type)
}

func asInt(v wire.SQLValue, bits int) (int64, error) {
	var n int64
	switch v.Type {
	case wire.TypeInt:
		n = v.Int
	case wire.TypeFloat:
		f, err := asFloat(v)
		if err != nil {
			return 0, err
		}
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, fmt.Errorf("float %v into an integer", f)
		}
		n = int64(f)
	case wire.TypeText:
		var err error
		if n, err = strconv.ParseInt(v.Text, 10, 64); err != nil {
			return 0, fmt.Errorf("text %q into an integer", v.Text)
		}
	case wire.TypeBool:
		if v.Bool {
			n = 1
		}
	default:
		return 0, fmt.Errorf("%s value into an integer", v.Type)
	}
	if bits < 64 && (n < -(1<<(bits-1)) || n >= 1<<(bits-1)) {
		return 0, fmt.Errorf("%d overflows int%d", n, bits)
	}
	return n, nil
}

func asUint(v wire.SQLValue, bits int) (uint64, error) {
	n, err := asInt(v, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || bits < 64 && uint64(n) >= 1<<bits {
		return 0, fmt.Errorf("%d overflows uint%d", n, bits)
	}
	return uint64(n), nil
}
