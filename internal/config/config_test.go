package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Addr = "nonsense"
	c.IdleTimeout = time.Millisecond
	c.MaxBody = 0
	c.Store = "mysql://x"
	c.Prices.PerGBSecond = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"addr", "idle timeout", "max body", "store", "prices"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestStoreSelection(t *testing.T) {
	c := Default()
	c.DataDir = "/d"
	if c.IsPostgres() || c.SQLitePath() != "/d/strata.db" {
		t.Fatalf("default store: %v %s", c.IsPostgres(), c.SQLitePath())
	}
	c.Store = "postgres://u@h/db"
	if !c.IsPostgres() {
		t.Fatal("postgres URL not recognised")
	}
	c.Store = "sqlite:///var/x.db"
	if c.IsPostgres() || c.SQLitePath() != "/var/x.db" {
		t.Fatalf("sqlite URL: %s", c.SQLitePath())
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("STRATA_ADDR", "127.0.0.1:9")
	t.Setenv("STRATA_STORE", "postgres://x")
	c := Default()
	c.FromEnv()
	if c.Addr != "127.0.0.1:9" || c.Store != "postgres://x" {
		t.Fatalf("%+v", c)
	}
}
