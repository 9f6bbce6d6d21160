/*
 * Client-side checks of the ID fields, mirroring the backend's (pkg/schema/ids.go, pkg/query/query.go) so the
 * editor can explain a bad ID before the query runs. Each returns undefined when the value is acceptable (or
 * empty: the backend reports a missing ID itself), else a message for the field.
 */

/** A dashboard template variable reference: `$name`, `${name}`, `${name:format}` or the legacy `[[name]]`. */
export function isTemplateVariable(raw: string): boolean {
  const s = raw.trim();
  return s.startsWith('$') || /^\[\[[^\]]+\]\]$/.test(s);
}

const ZEROS = /^0+$/;

export function sessionIdError(raw: string | undefined): string | undefined {
  const s = (raw ?? '').trim();
  if (s === '' || isTemplateVariable(s)) {
    return undefined;
  }
  if (/^[0-9a-f]{32}$/.test(s)) {
    return ZEROS.test(s) ? 'The all-zero session ID is not valid' : undefined;
  }
  if (/^[0-9a-fA-F]{32}$/.test(s)) {
    return 'Session IDs are lowercase: use 0-9 and a-f only';
  }
  if (/^[0-9a-fA-F]*$/.test(s)) {
    return `A session ID is 32 lowercase hex characters; this has ${s.length}. Or use a variable such as $session`;
  }
  return 'A session ID is 32 lowercase hex characters (0-9, a-f), or a variable such as $session';
}

export function traceIdError(raw: string | undefined): string | undefined {
  const s = (raw ?? '').trim();
  if (s === '' || isTemplateVariable(s)) {
    return undefined;
  }
  // The backend lowercases trace IDs, so upper-case hex is accepted.
  if (/^[0-9a-fA-F]{32}$/.test(s) || /^[0-9a-fA-F]{16}$/.test(s)) {
    return ZEROS.test(s) ? 'The all-zero trace ID is not valid' : undefined;
  }
  if (/^[0-9a-fA-F]*$/.test(s)) {
    return `A trace ID is 32 or 16 hex characters; this has ${s.length}. Or use a variable such as $trace`;
  }
  return 'A trace ID is 32 or 16 hex characters (0-9, a-f), or a variable such as $trace';
}
