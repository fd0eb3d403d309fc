package main

import (
	"strings"
	"testing"
)

func TestCheckPublished(t *testing.T) {
	for _, tc := range []struct {
		published, token string
		ok               bool
	}{
		{"", "", true},
		{"127.0.0.1", "", true},
		{"::1", "", true},
		{"[::1]", "", true},
		{"localhost", "", true},
		{"0.0.0.0", "", false},
		{"192.0.2.10", "", false},
		{"0.0.0.0", "s3cret", true},
	} {
		err := checkPublished(tc.published, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("published on %q, token %q: %v, want ok=%v", tc.published, tc.token, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "PODIUM_API_TOKEN") {
			t.Errorf("the error does not say what to set: %v", err)
		}
	}
}
