package main

import (
	"context"
	"slices"
	"testing"

	strata "github.com/stratahq/strata/sdk/go"
)

func TestProcessBatchReportsOnlyFailedOrders(t *testing.T) {
	events := []strata.Event{
		{ID: "a", Data: []byte(`{"id":1}`)},
		{ID: "b", Data: []byte(`{"id":7}`)},             // divisible by 7
		{ID: "c", Data: []byte(`{"id":8,"fail":true}`)}, // asks to fail
		{ID: "d", Data: []byte(`not json`)},             // poison
		{ID: "e", Data: []byte(`{"item":"no id"}`)},     // no id
		{ID: "f", Data: []byte(`{"id":30,"item":"tea"}`)},
	}
	failed, err := processBatch(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "c", "d", "e"}; !slices.Equal(failed, want) {
		t.Fatalf("failed = %v, want %v", failed, want)
	}
}
