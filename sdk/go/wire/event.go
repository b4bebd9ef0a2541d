package wire

import (
	"encoding/binary"
	"fmt"
)

// EventOptions are the optional attributes of an event a guest sends to a
// queue or publishes to a topic (strata_v1.event_send). The zero value
// means "all defaults".
type EventOptions struct {
	ContentType string // the data's media type (CloudEvents datacontenttype)
	Type        string // CloudEvents type; the host defaults it
	Subject     string // CloudEvents subject
	GroupID     string // FIFO message group
	DedupID     string // deduplication id
	DelayMS     int64  // delivery delay in milliseconds; never negative
}

// AppendEventOptions appends the encoding of o to dst and returns the
// result.
//
// Layout: u8 version = 1, then content_type, type, subject, group_id,
// dedup_id (strings) and delay_ms (i64).
func AppendEventOptions(dst []byte, o *EventOptions) []byte {
	dst = append(dst, Version)
	dst = appendString(dst, o.ContentType)
	dst = appendString(dst, o.Type)
	dst = appendString(dst, o.Subject)
	dst = appendString(dst, o.GroupID)
	dst = appendString(dst, o.DedupID)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(o.DelayMS))
	return dst
}

// DecodeEventOptions decodes options encoded by AppendEventOptions. Empty
// input is the zero EventOptions, so a guest with no options passes none.
// Trailing bytes, truncation and a negative delay are errors.
func DecodeEventOptions(src []byte) (*EventOptions, error) {
	o := &EventOptions{}
	if len(src) == 0 {
		return o, nil
	}
	d := decoder{buf: src}
	if v := d.byte(); v != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("wire: event options version %d, want %d", v, Version)
	}
	o.ContentType = d.string()
	o.Type = d.string()
	o.Subject = d.string()
	o.GroupID = d.string()
	o.DedupID = d.string()
	o.DelayMS = int64(d.uint64())
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("wire: %d bytes after the event options", len(d.buf))
	}
	if o.DelayMS < 0 {
		return nil, fmt.Errorf("wire: negative event delay %d ms", o.DelayMS)
	}
	return o, nil
}
