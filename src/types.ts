import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/*
 * Settings contract shared with the Go backend. The backend parses exactly
 * these names: do not rename fields or secure keys without changing it too.
 */

/** The three upstream stores Stitch reads from. Each is a key of jsonData. */
export type StoreRole = 'traces' | 'logs' | 'metrics';

export const STORE_ROLES: readonly StoreRole[] = ['traces', 'logs', 'metrics'];

export type TracesKind = 'jaeger' | 'tempo';
export type LogsKind = 'victorialogs' | 'loki';
export type MetricsKind = 'prometheus';
export type StoreKind = TracesKind | LogsKind | MetricsKind;

/** The store kinds each role accepts, the first one being the default. */
export const STORE_KINDS: { readonly [R in StoreRole]: readonly StoreKind[] } = {
  traces: ['jaeger', 'tempo'],
  logs: ['victorialogs', 'loki'],
  metrics: ['prometheus'],
};

export type AuthMode = 'none' | 'basic' | 'bearer';

export const DEFAULT_TIMEOUT_SECONDS = 30;

/**
 * One store's connection settings (jsonData.traces / .logs / .metrics).
 * A store whose object is absent from jsonData is "not configured".
 */
export interface StoreSettings {
  kind?: StoreKind;
  url?: string;
  auth?: AuthMode;
  basicAuthUser?: string;
  /** X-Scope-OrgID: tempo (traces), loki (logs), optional for metrics (Mimir/Cortex style). */
  tenant?: string;
  /** victorialogs only, digits. */
  accountId?: string;
  /** victorialogs only, digits. */
  projectId?: string;
  tlsSkipVerify?: boolean;
  tlsServerName?: string;
  timeoutSeconds?: number;
  /**
   * traces and logs only: uid of the Grafana data source (Tempo/Jaeger, Loki/VictoriaLogs) that Stitch's data links
   * open a trace or a span's logs in. Grafana's uid rule: 1-40 of [a-zA-Z0-9_-].
   */
  linkDatasourceUid?: string;
  /**
   * metrics only: the request-duration histogram (name without _bucket) that latencyBreakdown and exemplarSessions
   * read; empty means stitch_requests_duration_milliseconds, what the reference collector's span metrics write.
   */
  requestDurationMetric?: string;
}

/** Options configured for each data source instance (jsonData). */
export interface StitchJsonData extends DataSourceJsonData {
  traces?: StoreSettings;
  logs?: StoreSettings;
  metrics?: StoreSettings;
}

export type SecureSuffix = 'BasicAuthPassword' | 'BearerToken' | 'TLSCACert' | 'TLSClientCert' | 'TLSClientKey';

export const SECURE_SUFFIXES: readonly SecureSuffix[] = [
  'BasicAuthPassword',
  'BearerToken',
  'TLSCACert',
  'TLSClientCert',
  'TLSClientKey',
];

/** e.g. `tracesBearerToken`, `logsTLSCACert`, `metricsBasicAuthPassword`. */
export type SecureKey = `${StoreRole}${SecureSuffix}`;

export function secureKey(role: StoreRole, suffix: SecureSuffix): SecureKey {
  return `${role}${suffix}`;
}

/** All 15 secure keys, in role order then suffix order. */
export const SECURE_KEYS: readonly SecureKey[] = STORE_ROLES.flatMap((role) =>
  SECURE_SUFFIXES.map((suffix) => secureKey(role, suffix))
);

/** Values only sent to the backend, never returned to the browser. */
export type StitchSecureJsonData = { [K in SecureKey]?: string };

/*
 * Queries.
 */

export type StitchQueryType =
  | 'sessions'
  | 'sessionTimeline'
  | 'traceToSession'
  | 'latencyBreakdown'
  | 'errorCascades'
  | 'propagationHealth'
  | 'sessionMetrics'
  | 'exemplarSessions';

export const QUERY_TYPES: readonly StitchQueryType[] = [
  'sessions',
  'sessionTimeline',
  'traceToSession',
  'latencyBreakdown',
  'errorCascades',
  'propagationHealth',
  'sessionMetrics',
  'exemplarSessions',
];

/** exemplarSessions looks each session up in the trace store: its limit is lower. */
export const DEFAULT_EXEMPLAR_SESSIONS_LIMIT = 20;
export const MAX_EXEMPLAR_SESSIONS_LIMIT = 100;

/** The attributes latencyBreakdown and sessionMetrics group by. */
export const GROUP_BY_ATTRIBUTES = ['endpoint', 'appVersion', 'osVersion', 'deviceModel', 'networkType'] as const;

export type GroupByAttribute = (typeof GROUP_BY_ATTRIBUTES)[number];

/** The metrics a sessionMetrics query computes, one time series per group. */
export const SESSION_METRICS = [
  'sessions',
  'sessionsWithErrors',
  'errorSessionRatio',
  'clientLatencyP95',
  'serverLatencyP95',
  'networkLatencyP95',
  'propagationCoverage',
  'newCascadeSignatures',
] as const;

export type SessionMetric = (typeof SESSION_METRICS)[number];

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** The free-text filters of a `sessions` query (interpolated with template variables). */
export const SESSION_TEXT_FILTERS = [
  'appService',
  'appVersion',
  'osVersion',
  'deviceModel',
  'networkType',
  'endpoint',
] as const;

export type SessionTextFilter = (typeof SESSION_TEXT_FILTERS)[number];

export interface StitchQuery extends DataQuery {
  /** Absent on queries saved before a type was chosen: treat as `sessions`. */
  queryType?: StitchQueryType;

  // queryType "sessions"
  appService?: string;
  appVersion?: string;
  osVersion?: string;
  deviceModel?: string;
  networkType?: string;
  endpoint?: string;
  errorsOnly?: boolean;
  minDurationMs?: number;
  /** How the list is ranked: latest start first when absent. */
  orderBy?: SessionOrder;
  /** 1..MAX_LIMIT, DEFAULT_LIMIT when absent. */
  limit?: number;

  // queryType "sessionTimeline"
  sessionId?: string;
  /** Which frames to return (all three when absent): a panel asks only for the frame it shows. */
  frames?: TimelineFrame[];

  // queryType "traceToSession"
  traceId?: string;

  // queryType "latencyBreakdown": one or more attributes (default endpoint); "limit" as above.
  // queryType "sessionMetrics": at most one attribute, as a string.
  groupBy?: GroupByAttribute[] | GroupByAttribute;

  // queryType "sessionMetrics"
  metric?: SessionMetric;
  /** metric "newCascadeSignatures": hours before the range in which a signature counts as known (default 24, at most 168). */
  lookbackHours?: number;
}

/** The orders of the sessions list, each descending: the log store ranks every matching session. */
export type SessionOrder = 'start' | 'duration' | 'errors';

/** The frames a sessionTimeline query can return. */
export type TimelineFrame = 'timeline' | 'waterfall' | 'logs';
export const TIMELINE_FRAMES: readonly TimelineFrame[] = ['timeline', 'waterfall', 'logs'];

export const DEFAULT_QUERY: Partial<StitchQuery> = {
  queryType: 'sessions',
  limit: DEFAULT_LIMIT,
};

/*
 * Resource routes (served by the Go backend's CallResource).
 */

/** The attributes the `values` route lists: the six sessions filters and the session ID. */
export const VALUE_ATTRIBUTES = [...SESSION_TEXT_FILTERS, 'sessionId'] as const;

export type ValueAttribute = (typeof VALUE_ATTRIBUTES)[number];

export function isValueAttribute(s: unknown): s is ValueAttribute {
  return typeof s === 'string' && (VALUE_ATTRIBUTES as readonly string[]).includes(s);
}

/** `GET values?attribute=&from=&to=`: at most 500 sorted values seen in the time range. */
export interface ValuesResponse {
  attribute: ValueAttribute;
  values: string[];
  /** More values exist than were returned. */
  truncated: boolean;
}

/*
 * Template variables.
 */

/** A query variable's query: list the values of one attribute in the dashboard's time range. */
export interface StitchVariableQuery extends DataQuery {
  attribute?: ValueAttribute;
}

/** A variable query as stored: an object, or a bare attribute name (a string) from a hand-written dashboard. */
export function variableAttribute(query: StitchVariableQuery | string | undefined | null): string | undefined {
  const raw = typeof query === 'string' ? query : query?.attribute;
  const attribute = typeof raw === 'string' ? raw.trim() : '';
  return attribute === '' ? undefined : attribute;
}
