package query

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHeader(t *testing.T) {
	qt, err := ParseHeader(json.RawMessage(`{"queryType":"sessionTimeline","unknown":1}`), "")
	require.NoError(t, err)
	assert.Equal(t, TypeSessionTimeline, qt)
	qt, err = ParseHeader(json.RawMessage(`{}`), TypeSessions)
	require.NoError(t, err)
	assert.Equal(t, TypeSessions, qt)
	qt, err = ParseHeader(json.RawMessage(`{"queryType":"errorCascades"}`), TypeSessions)
	require.NoError(t, err)
	assert.Equal(t, TypeErrorCascades, qt, "the model's queryType wins over the request's")
	_, err = ParseHeader(json.RawMessage(`{}`), "")
	var fe *FieldError
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, "queryType", fe.Field)
	for _, typ := range Types {
		assert.Contains(t, fe.Msg, typ, "the error lists every query type")
	}
	_, err = ParseHeader(json.RawMessage(`{`), "")
	assert.ErrorContains(t, err, "not valid JSON")
}

func TestParseSessionTimeline(t *testing.T) {
	q, err := ParseSessionTimeline(json.RawMessage(`{"sessionId":" 0af7651916cd43dd8448eb211c80319c ","other":true}`))
	require.NoError(t, err)
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", q.SessionID)

	for name, raw := range map[string]string{
		"missing":      `{}`,
		"not a string": `{"sessionId": 12}`,
		"uppercase":    `{"sessionId":"0AF7651916CD43DD8448EB211C80319C"}`,
		"all zeros":    `{"sessionId":"00000000000000000000000000000000"}`,
		"injection":    `{"sessionId":"x\") OR *"}`,
		"too long":     `{"sessionId":"0af7651916cd43dd8448eb211c80319c0"}`,
		"template var": `{"sessionId":"$session"}`,
	} {
		_, err := ParseSessionTimeline(json.RawMessage(raw))
		var fe *FieldError
		require.True(t, errors.As(err, &fe), name)
		assert.Equal(t, "sessionId", fe.Field, name)
	}
}
