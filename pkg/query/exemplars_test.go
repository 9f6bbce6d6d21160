package query

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExemplarSessions(t *testing.T) {
	q, err := ParseExemplarSessions(json.RawMessage(`{"endpoint":" /v1/search ","minDurationMs":3000}`))
	require.NoError(t, err)
	assert.Equal(t, ExemplarSessions{Endpoint: "/v1/search", MinDurationMs: 3000, Limit: DefaultExemplarSessionsLimit}, q)

	for raw, field := range map[string]string{
		`{}`:                                   "endpoint",
		`{"endpoint":"a\nb"}`:                  "endpoint",
		`{"endpoint":"/x","minDurationMs":-1}`: "minDurationMs",
		`{"endpoint":"/x","limit":101}`:        "limit",
		`{"endpoint":"/x","errorsOnly":"yes"}`: "errorsOnly",
	} {
		_, err := ParseExemplarSessions(json.RawMessage(raw))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), raw)
		assert.Equal(t, field, fe.Field, raw)
	}
}
